/**
 * One wrapped load-test run: create the run, report initializing, start the command, report
 * running, and when it ends report how (status, result, k6 summary) — then hand back the
 * command's own exit code. Used by `loadnotify run` and by the scheduler (trigger `scheduled`).
 *
 * Reporting never holds up the load test: a server that is down or failing only delays the
 * reports, which are retried in order for a bounded window after the command ends.
 */
import type { Writable } from 'node:stream';
import type { RunSummary } from '../core/events.js';
import type { RunContext } from '../core/run-context.js';
import type { RunResult, TerminalStatus, Trigger } from '../core/run-status.js';
import type { CreatedRun, RunApi, StatusReport } from './api-client.js';
import {
  errorsForEnd,
  outcomeForExit,
  toolFor,
  type ExitEvidence,
  type ExitOutcome,
  type Tool,
} from './exit-profiles.js';
import { planFigures, type FiguresPlan } from './figures.js';
import { ERROR_LINES, lastErrorLines, maskSecrets, secretValues } from './error-lines.js';
import { exitCodeOnError } from './locust-summary.js';
import { OutputTail } from './output-tail.js';
import { RunReporter, type BackoffOptions } from './run-reporter.js';
import { exitCodeFor, StopRequest, supervise, type ChildEnd } from './supervise.js';

export interface RunWrappedOptions {
  client: RunApi;
  loadTestId: number;
  trigger?: Trigger;
  /** Where the run came from (the CI's commit and job, labels), sent when the run is created. */
  context?: RunContext | null;
  command: string;
  args?: readonly string[];
  /** Exit-code and figures profile; by default from the command's basename (k6, artillery, ...), else generic. */
  tool?: Tool;
  /** Exit codes that mean finished/failed for this command (`--failed-exit-codes`), whatever the tool. */
  failedExitCodes?: readonly number[];
  timeoutMs?: number;
  /** After the timeout's SIGTERM, how long before SIGKILL (default 10 s). */
  killGraceMs?: number;
  /** After a graceful user stop, SIGKILL once this passes (default: never; see supervise.ts). */
  abortGraceMs?: number;
  /**
   * A file with the tool's figures (k6 summary-export, Artillery report, ...); by default taken
   * from the arguments (`--summary-export`, `--output`) or K6_SUMMARY_EXPORT (see figures.ts).
   */
  summaryPath?: string;
  /**
   * Don't ask the tool for figures the command does not ask for (by default the wrapper adds
   * k6's --summary-export or Artillery's --output to a temporary file, and autocannon's and
   * Locust's --json, so figures need no script change).
   */
  noSummary?: boolean;
  stdout: Writable;
  /**
   * Receives the command's stderr and the wrapper's own `loadnotify:` lines. The command's last
   * lines are sent with a failed or aborted run, unless this is a terminal (the command then
   * keeps it, for its progress bar and colours).
   */
  stderr: Writable;
  /** Values masked in the lines sent (the API token); secret-looking variables of `env` are masked too. */
  secrets?: readonly string[];
  stdin?: 'inherit' | 'ignore';
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The account the command runs as; by default the wrapper's own. */
  user?: { uid: number; gid: number };
  /** Graceful stop (Ctrl-C, SIGTERM, a cancelled schedule): the run ends aborted_by_user. */
  signal?: AbortSignal;
  /** Immediate stop (SIGKILL), e.g. a second Ctrl-C. */
  killSignal?: AbortSignal;
  /** How long reports may still be retried after the command ends (default 30 s). */
  retryWindowMs?: number;
  backoff?: BackoffOptions;
  /** Called once the server has created the run (before the command starts, unless it is down). */
  onRunCreated?: (run: CreatedRun) => void;
  /** The command leads a process group of its own (see supervise). */
  ownProcessGroup?: boolean;
  /** Told the command's pid once it has started. */
  onCommandStarted?: (pid: number) => void;
}

export interface RunWrappedResult {
  exitCode: number;
  runId: number | null;
  status: TerminalStatus;
  result: RunResult | null;
  summary: RunSummary | null;
  /** Every report reached the server. */
  reported: boolean;
}

export async function runWrapped(options: RunWrappedOptions): Promise<RunWrappedResult> {
  let figures: FiguresPlan | null = null;
  try {
    return await wrapped(options, (made) => (figures = made));
  } finally {
    await (figures as FiguresPlan | null)?.remove();
  }
}

async function wrapped(
  options: RunWrappedOptions,
  planned: (figures: FiguresPlan) => void,
): Promise<RunWrappedResult> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const tool = toolFor(options.command, options.tool);
  const reporter = new RunReporter({
    api: options.client,
    loadTestId: options.loadTestId,
    trigger: options.trigger ?? 'manual',
    context: options.context,
    stderr: options.stderr,
    backoff: options.backoff,
    onCreated: options.onRunCreated,
  });
  reporter.report({ status: 'initializing' });

  const figures = await planFigures({
    tool,
    args: options.args ?? [],
    env,
    cwd,
    summaryPath: options.summaryPath,
    noSummary: options.noSummary,
    user: options.user,
    stdout: options.stdout,
    stderr: options.stderr,
  });
  planned(figures);
  const args = figures.args;
  const keepsTerminal = options.stderr === process.stderr && process.stderr.isTTY === true;
  const stderrTail = keepsTerminal ? null : new OutputTail(options.stderr, ERROR_LINES.tailBytes);

  await untilSettledOrAborted(reporter, options.signal);
  let end: ChildEnd;
  if (options.signal?.aborted) {
    // Stopped before the command started: don't start it at all.
    const reason: unknown = options.signal.reason;
    const sig = reason instanceof StopRequest && reason.forward ? reason.forward : 'SIGTERM';
    end = { exitCode: exitCodeFor(null, sig), code: null, signal: sig, stoppedBy: 'user' };
  } else {
    end = await supervise({
      command: options.command,
      args,
      env,
      cwd,
      user: options.user,
      stdin: options.stdin,
      stdout: figures.stdout ?? options.stdout,
      stderr: stderrTail ?? options.stderr,
      timeoutMs: options.timeoutMs,
      killGraceMs: options.killGraceMs,
      abortGraceMs: options.abortGraceMs,
      signal: options.signal,
      killSignal: options.killSignal,
      ownProcessGroup: options.ownProcessGroup,
      onSpawn: (pid) => {
        options.onCommandStarted?.(pid);
        reporter.report({ status: 'running' });
      },
    });
  }

  if (end.spawnError) {
    options.stderr.write(`loadnotify: cannot start ${options.command}: ${end.spawnError.message}\n`);
  }
  const summary = end.spawnError ? null : await figures.collect();
  const evidence: ExitEvidence = {
    asked: figures.asked,
    summary,
    locustFailureCode: tool === 'locust' ? exitCodeOnError(args, env) : undefined,
  };
  const outcome = outcomeFor(tool, end, options.failedExitCodes, evidence);

  const terminal: StatusReport = { status: outcome.status };
  if (outcome.result) terminal.result = outcome.result;
  if (summary) terminal.summary = summary;
  const secrets = secretValues(env, options.secrets ?? []);
  const passed = outcome.status === 'finished' && outcome.result !== 'failed';
  const lines = passed || !stderrTail ? [] : lastErrorLines(wholeLines(stderrTail), secrets);
  const errors = [
    ...lines.map((detail) => ({ code: null, detail })),
    ...errorsForEnd(tool, end, { ...options, evidence }).map((e) => ({
      ...e,
      detail: maskSecrets(e.detail, secrets),
    })),
  ];
  if (errors.length > 0) terminal.errors = errors;
  reporter.report(terminal);
  const delivered = await reporter.finish(options.retryWindowMs ?? 30_000, giveUpSignal(options));

  return {
    exitCode: end.exitCode,
    runId: delivered.runId,
    status: outcome.status,
    result: outcome.result,
    summary,
    reported: delivered.delivered,
  };
}

/** Who stopped the command outranks how it ended: a child may exit 0 after a stop request too. */
function outcomeFor(
  tool: Tool,
  end: ChildEnd,
  failedExitCodes: readonly number[] | undefined,
  evidence: ExitEvidence,
): ExitOutcome {
  if (end.stoppedBy === 'timeout') return { status: 'timed_out', result: null };
  if (end.stoppedBy === 'user') return { status: 'aborted_by_user', result: null };
  // A death by a signal nobody here sent: the OOM killer, a kill from elsewhere.
  if (end.spawnError || end.code === null) return { status: 'aborted_by_system', result: null };
  return outcomeForExit(tool, end.code, failedExitCodes, evidence);
}

/** What the tail kept, without a first line cut in two by its limit. */
function wholeLines(tail: OutputTail): string {
  const text = tail.text();
  return tail.truncated ? text.slice(text.indexOf('\n') + 1) : text;
}

/**
 * Once the command has ended, a stop request means "don't wait for the server": the first one,
 * unless it was already spent on stopping the command, then the second (killSignal).
 */
function giveUpSignal(options: RunWrappedOptions): AbortSignal | undefined {
  const { signal, killSignal } = options;
  if (signal?.aborted) return killSignal;
  const signals = [signal, killSignal].filter((s): s is AbortSignal => s !== undefined);
  return signals.length > 0 ? AbortSignal.any(signals) : undefined;
}

async function untilSettledOrAborted(reporter: RunReporter, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return reporter.settled();
  if (signal.aborted) return;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    signal.addEventListener('abort', onAbort, { once: true });
  });
  await Promise.race([reporter.settled(), aborted]);
  signal.removeEventListener('abort', onAbort as () => void);
}
