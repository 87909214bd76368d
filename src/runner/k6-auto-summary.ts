/**
 * Figures without editing scripts (grafana/k6 #3683, #3732): when `loadnotify run` wraps
 * `k6 run` and nothing asks for a summary file, the wrapper asks k6 for one itself, in a
 * directory of its own that it removes afterwards.
 */
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * The k6 arguments with `--summary-export=<file>` right after the `run` subcommand, where k6
 * reads its own options; null when the command is not `k6 run` (version, cloud, inspect, ...)
 * or k6 was told `--no-summary`, which also turns the export off.
 */
export function withSummaryExport(args: readonly string[], file: string): string[] | null {
  const end = args.indexOf('--');
  const own = end === -1 ? args : args.slice(0, end);
  if (own.includes('--no-summary')) return null;
  // The subcommand is the first word that is not an option: k6's global options before it are flags.
  const sub = own.findIndex((a) => !a.startsWith('-'));
  if (sub === -1 || own[sub] !== 'run') return null;
  return [...args.slice(0, sub + 1), `--summary-export=${file}`, ...args.slice(sub + 1)];
}

export interface AutoSummary {
  args: string[];
  file: string;
  /** Removes the directory and the file in it. */
  remove(): Promise<void>;
}

/**
 * A temporary summary file for this run and the arguments that ask the tool for it (by default
 * k6's --summary-export; Artillery's --output is given as `withFile`), or null when the command
 * is not one to add it to. `user`: the account the command runs as gets the directory, so the
 * tool can write there.
 */
export async function autoSummary(
  args: readonly string[],
  user: { uid: number; gid: number } | undefined,
  withFile: (args: readonly string[], file: string) => string[] | null = withSummaryExport,
): Promise<AutoSummary | null> {
  if (withFile(args, 'x') === null) return null;
  const dir = await mkdtemp(path.join(tmpdir(), 'loadnotify-summary-'));
  if (user) await chown(dir, user.uid, user.gid);
  const file = path.join(dir, 'summary.json');
  return {
    args: withFile(args, file) as string[],
    file,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
