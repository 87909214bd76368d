/**
 * Where a wrapped tool's end-of-test figures come from, and asking for them when the command
 * does not (grafana/k6 #3683, #3732: figures without editing scripts or commands):
 * - k6: its --summary-export file (or K6_SUMMARY_EXPORT); added, to a temporary file, to a
 *   `k6 run` without one;
 * - Artillery: its --output report; added, to a temporary file, to an `artillery run` without
 *   one; its `ensure` verdicts are read from what it prints;
 * - autocannon and Locust: the JSON they print on stdout with --json, added when absent;
 *   stdout still reaches the user, and only its last bytes are kept to read them from.
 * `--no-summary` adds nothing (figures the command asks for itself are still read); `--summary
 * <file>` names a file holding the tool's output instead.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { RunSummary } from '../core/events.js';
import { ensureChecks, outputPathFromArgs, parseArtilleryReport, withOutput } from './artillery-summary.js';
import * as autocannon from './autocannon-summary.js';
import type { Tool } from './exit-profiles.js';
import { autoSummary, type AutoSummary } from './k6-auto-summary.js';
import { parseK6Summary, summaryPathFromArgs } from './k6-summary.js';
import * as locust from './locust-summary.js';
import { OutputTail } from './output-tail.js';
import { readJsonSummary, SummaryError } from './summary-json.js';

export interface FiguresOptions {
  tool: Tool;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** `--summary`: a file holding the tool's figures. */
  summaryPath?: string;
  noSummary?: boolean;
  user?: { uid: number; gid: number };
  /** Where the command's stdout goes. */
  stdout: Writable;
  /** Where the wrapper says why figures could not be used. */
  stderr: Writable;
}

export interface FiguresPlan {
  /** The command's arguments, with what asks for the figures added. */
  args: string[];
  /** Give it to the command as its stdout when set: the figures (or checks) come on it. */
  stdout: OutputTail | null;
  /** The tool was asked for figures (by the command or by the wrapper). */
  asked: boolean;
  /** Reads the figures once the command has ended; null when there are none to send. */
  collect(): Promise<RunSummary | null>;
  /** Removes what the wrapper made (a temporary report file). */
  remove(): Promise<void>;
}

const MiB = 1024 * 1024;
/** autocannon's result is a few KB; a --forever run prints one per round. */
const AUTOCANNON_TAIL = 1 * MiB;
/** Locust's stats keep a count per second per endpoint: hours of a large test run to MBs. */
const LOCUST_TAIL = 8 * MiB;
/** Artillery's `ensure` verdicts come last, after its summary. */
const ARTILLERY_TAIL = 64 * 1024;

const NOTHING: FiguresPlan = {
  args: [],
  stdout: null,
  asked: false,
  collect: () => Promise.resolve(null),
  remove: () => Promise.resolve(),
};

export async function planFigures(o: FiguresOptions): Promise<FiguresPlan> {
  switch (o.tool) {
    case 'k6':
      return fileFigures(o, {
        fromArgs: (args) => summaryPathFromArgs(args) ?? (o.env.K6_SUMMARY_EXPORT || null),
        withFile: undefined,
        parse: parseK6Summary,
      });
    case 'artillery':
      return fileFigures(o, {
        fromArgs: outputPathFromArgs,
        withFile: withOutput,
        parse: parseArtilleryReport,
      });
    case 'autocannon':
      return stdoutFigures(o, autocannon.asksForJson, autocannon.withJson, autocannon.findAutocannonResult, {
        limit: AUTOCANNON_TAIL,
        name: 'autocannon',
      });
    case 'locust':
      return stdoutFigures(o, locust.asksForJson, locust.withJson, locust.findLocustStats, {
        limit: LOCUST_TAIL,
        name: 'Locust',
      });
    case 'generic':
      // A k6-style summary file named with --summary, or --summary-export in the arguments
      // (k6 run through a script or npx); nothing is added.
      return fileFigures(o, { fromArgs: summaryPathFromArgs, withFile: null, parse: parseK6Summary });
  }
}

interface FileTool {
  fromArgs: (args: readonly string[]) => string | null;
  /** Adds the file to the arguments; undefined: k6's own; null: never added. */
  withFile: ((args: readonly string[], file: string) => string[] | null) | undefined | null;
  parse: (data: unknown) => RunSummary;
}

async function fileFigures(o: FiguresOptions, t: FileTool): Promise<FiguresPlan> {
  let args = [...o.args];
  const chosen = o.summaryPath ?? t.fromArgs(args);
  let file = chosen ? path.resolve(o.cwd, chosen) : null;
  let auto: AutoSummary | null = null;
  if (file === null && t.withFile !== null && !o.noSummary) {
    auto = await autoSummary(args, o.user, t.withFile).catch((err: Error) => {
      o.stderr.write(`loadnotify: cannot make a summary file (${err.message}); no summary will be sent\n`);
      return null;
    });
    if (auto) {
      args = auto.args;
      file = auto.file;
    }
  }
  if (file === null) return { ...NOTHING, args };
  const before = await stat(file).catch(() => null);
  const report = file;
  const ownFile = auto !== null;
  // Artillery's verdicts on its checks are printed, not written to the report.
  const tail = o.tool === 'artillery' ? new OutputTail(o.stdout, ARTILLERY_TAIL) : null;
  return {
    args,
    stdout: tail,
    asked: true,
    collect: async () => {
      const summary = await readSummaryFile(report, before, o.stderr, ownFile, t.parse);
      const checks = tail ? ensureChecks(tail.text()) : null;
      return summary && checks ? { ...summary, ...checks } : summary;
    },
    remove: () => auto?.remove() ?? Promise.resolve(),
  };
}

function stdoutFigures(
  o: FiguresOptions,
  asks: (args: readonly string[]) => boolean,
  withFlag: (args: readonly string[]) => string[] | null,
  find: (text: string) => RunSummary,
  t: { limit: number; name: string },
): FiguresPlan {
  if (o.summaryPath) {
    const file = path.resolve(o.cwd, o.summaryPath);
    return {
      ...NOTHING,
      args: [...o.args],
      asked: true,
      collect: () =>
        readFile(file, 'utf8')
          .then(find)
          .catch((err: Error) => {
            o.stderr.write(`loadnotify: cannot use summary ${file}: ${err.message}; no summary sent\n`);
            return null;
          }),
    };
  }
  const own = asks(o.args);
  if (!own && o.noSummary) return { ...NOTHING, args: [...o.args] };
  const args = own ? [...o.args] : (withFlag(o.args) as string[]);
  const tail = new OutputTail(o.stdout, t.limit);
  return {
    ...NOTHING,
    args,
    stdout: tail,
    asked: true,
    collect: () => {
      try {
        return Promise.resolve(find(tail.text()));
      } catch (err) {
        if (!(err instanceof SummaryError)) throw err;
        // Asked for by the wrapper, a tool that stopped before its result is not news.
        if (own || tail.truncated) {
          const where = tail.truncated ? ` in the last ${Math.round(t.limit / MiB)} MiB of its output` : '';
          o.stderr.write(`loadnotify: no figures from ${t.name}${where}: ${err.message}; no summary sent\n`);
        }
        return Promise.resolve(null);
      }
    },
  };
}

/**
 * A summary left by an earlier run must not be sent as this run's: when the file was there
 * before the command started and was not rewritten, it is ignored.
 */
async function readSummaryFile(
  file: string,
  before: Awaited<ReturnType<typeof stat>> | null,
  stderr: Writable,
  /** The wrapper asked for the file itself: the tool ending before it wrote one is not news. */
  ownFile: boolean,
  parse: (data: unknown) => RunSummary,
): Promise<RunSummary | null> {
  const after = await stat(file).catch(() => null);
  if (ownFile && !after) return null;
  if (before && after && after.mtimeMs === before.mtimeMs && after.size === before.size) {
    stderr.write(`loadnotify: summary ${file} was not rewritten by this run; no summary sent\n`);
    return null;
  }
  try {
    return await readJsonSummary(file, parse);
  } catch (err) {
    stderr.write(`loadnotify: cannot use summary ${file}: ${(err as Error).message}; no summary sent\n`);
    return null;
  }
}
