/**
 * `loadnotify run --load-test <id> [options] -- <command> [args...]`: runs a load test and
 * records its lifecycle on a loadnotify server. The wrapper is transparent: the command's
 * output passes through untouched and the wrapper exits with the command's own exit code.
 */
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { statusCode, TRIGGERS, type Trigger } from '../core/run-status.js';
import { createApiClient } from '../runner/api-client.js';
import { LabelError, parseLabels, runContext } from '../runner/ci-context.js';
import type { RunContext } from '../core/run-context.js';
import { parseDuration } from '../runner/duration.js';
import { TOOLS, type Tool } from '../runner/exit-profiles.js';
import { runWrapped, type RunWrappedResult } from '../runner/run-wrapped.js';
import { StopRequest } from '../runner/supervise.js';

export interface RunCommandIo {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

export const RUN_USAGE = `Usage: loadnotify run --load-test <id> [options] -- <command> [args...]

Runs <command> (no shell) and reports the run's lifecycle to loadnotify. On stderr it says
which run it created (with its link in the web app) and, at the end, how the run ended.
Exits with the command's own exit code.

Options:
  --load-test <id>       the load test the run belongs to (required)
  --server <url>         loadnotify server (env LOADNOTIFY_URL, default http://127.0.0.1:8080)
  --token <token>        API token (env LOADNOTIFY_TOKEN)
  --trigger <trigger>    manual (default), scheduled or api
  --tool <tool>          k6, artillery, autocannon, locust or generic: how the command's exit code
                         and figures are read (default: the command's name, e.g. k6 or autocannon;
                         generic for anything else, such as npx)
  --failed-exit-codes <codes>
                         exit codes (e.g. 1,2) that mean the tool ran and its checks failed:
                         finished/failed instead of aborted_by_system
  --timeout <duration>   stop the command after this long: seconds, or e.g. 90s, 5m, 1h30m
  --summary <path>       a file with the tool's figures (k6 --summary-export, Artillery --output);
                         by default taken from the command's arguments, or asked for: \`k6 run\`
                         gets --summary-export and \`artillery run\` --output to a temporary file,
                         autocannon and locust get --json (read from their stdout, which still
                         reaches you)
  --no-summary           don't add any of those to the command
  --label <key=value>    a label for the run, shown with it (repeatable; at most 20)
  --no-ci-context        don't send the commit, branch, pull request and job link read from the
                         CI's variables (GitHub Actions, GitLab CI, Jenkins, CircleCI, Buildkite,
                         Azure Pipelines)
  -q, --quiet            don't print the run's number, link and outcome (problems are still said)
  -h, --help             show this help

Environment: LOADNOTIFY_RETRY_WINDOW (default 30s) bounds how long undelivered reports are
retried after the command ends.
`;

const DEFAULT_SERVER = 'http://127.0.0.1:8080';

interface Parsed {
  loadTestId: number;
  server: string;
  token: string | undefined;
  trigger: Trigger;
  context: RunContext | null;
  tool: Tool | undefined;
  failedExitCodes: number[];
  timeoutMs: number | undefined;
  summaryPath: string | undefined;
  noSummary: boolean;
  retryWindowMs: number | undefined;
  quiet: boolean;
  command: string;
  args: string[];
}

class UsageError extends Error {}

export async function runCommand(argv: string[], io: Partial<RunCommandIo> = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  const rest = argv[0] === 'run' ? argv.slice(1) : argv;

  let parsed: Parsed | 'help';
  try {
    parsed = parse(rest, env);
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof LabelError) && !isParseArgsError(err)) throw err;
    stderr.write(`loadnotify run: ${(err as Error).message}\nRun 'loadnotify run --help' for usage.\n`);
    return 2;
  }
  if (parsed === 'help') {
    stdout.write(RUN_USAGE);
    return 0;
  }

  const stop = new AbortController();
  const kill = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      stderr.write(`loadnotify: ${sig} again; killing the command, not waiting for the server\n`);
      kill.abort();
      return;
    }
    // Ctrl-C in a terminal already reached the command (same foreground process group);
    // sending it again would make k6 skip its teardown and summary.
    const forward = sig === 'SIGINT' && process.stdin.isTTY ? null : sig;
    stderr.write(`loadnotify: ${sig}; stopping (${sig} again to force)\n`);
    stop.abort(new StopRequest(forward));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const outcome = await runWrapped({
      client: createApiClient({ baseUrl: parsed.server, token: parsed.token }),
      loadTestId: parsed.loadTestId,
      trigger: parsed.trigger,
      context: parsed.context,
      command: parsed.command,
      args: parsed.args,
      tool: parsed.tool,
      failedExitCodes: parsed.failedExitCodes,
      timeoutMs: parsed.timeoutMs,
      summaryPath: parsed.summaryPath,
      noSummary: parsed.noSummary,
      retryWindowMs: parsed.retryWindowMs,
      secrets: parsed.token ? [parsed.token] : [],
      stdout,
      stderr,
      stdin: 'inherit',
      env,
      signal: stop.signal,
      killSignal: kill.signal,
      onRunCreated: parsed.quiet
        ? undefined
        : (run) => stderr.write(`loadnotify: run ${run.id}${run.url ? `: ${run.url}` : ' created'}\n`),
    });
    if (!parsed.quiet && outcome.runId !== null) stderr.write(`loadnotify: ${ending(outcome)}\n`);
    return outcome.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function parse(argv: string[], env: NodeJS.ProcessEnv): Parsed | 'help' {
  const { values, tokens } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    tokens: true,
    options: {
      'load-test': { type: 'string' },
      server: { type: 'string' },
      token: { type: 'string' },
      trigger: { type: 'string' },
      tool: { type: 'string' },
      'failed-exit-codes': { type: 'string' },
      timeout: { type: 'string' },
      summary: { type: 'string' },
      label: { type: 'string', multiple: true },
      'no-ci-context': { type: 'boolean' },
      'no-summary': { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const terminator = tokens.find((t) => t.kind === 'option-terminator')?.index ?? Infinity;
  const stray = tokens.find((t) => t.kind === 'positional' && t.index < terminator);
  if (stray?.kind === 'positional') {
    throw new UsageError(
      `unexpected argument '${stray.value}': put the command after --, as in ` +
        `loadnotify run --load-test 1 -- k6 run script.js`,
    );
  }
  if (values.help) return 'help';
  const command = argv.slice(terminator === Infinity ? argv.length : terminator + 1);

  const loadTest = values['load-test'];
  if (loadTest === undefined) throw new UsageError('--load-test <id> is required');
  if (!/^[1-9]\d*$/.test(loadTest) || !Number.isSafeInteger(Number(loadTest))) {
    throw new UsageError(`--load-test: '${loadTest}' is not a load test id (a positive integer)`);
  }
  const server = values.server ?? (env.LOADNOTIFY_URL || DEFAULT_SERVER);
  const source = values.server !== undefined ? '--server' : 'LOADNOTIFY_URL';
  if (!isHttpUrl(server)) throw new UsageError(`${source}: '${server}' is not an http(s) URL`);
  const trigger = values.trigger ?? 'manual';
  if (!(TRIGGERS as readonly string[]).includes(trigger)) {
    throw new UsageError(`--trigger: '${trigger}' is not one of ${TRIGGERS.join(', ')}`);
  }
  const tool = values.tool;
  if (tool !== undefined && !(TOOLS as readonly string[]).includes(tool)) {
    throw new UsageError(`--tool: '${tool}' is not one of ${TOOLS.join(', ')}`);
  }
  const timeoutMs = optionalDuration('--timeout', values.timeout);
  const retryWindowMs = optionalDuration('LOADNOTIFY_RETRY_WINDOW', env.LOADNOTIFY_RETRY_WINDOW || undefined);
  if (values.summary === '') throw new UsageError('--summary: the path is empty');
  const [program, ...args] = command;
  if (!program) throw new UsageError('no command to run: put it after --, as in -- k6 run script.js');

  return {
    loadTestId: Number(loadTest),
    server,
    token: values.token ?? (env.LOADNOTIFY_TOKEN || undefined),
    trigger: trigger as Trigger,
    context: runContext(env, parseLabels(values.label ?? []), !values['no-ci-context']),
    tool: tool as Tool | undefined,
    failedExitCodes: exitCodes(values['failed-exit-codes']),
    timeoutMs,
    summaryPath: values.summary,
    noSummary: values['no-summary'] ?? false,
    retryWindowMs,
    quiet: values.quiet ?? false,
    command: program,
    args,
  };
}

/** "run 12 ended: Finished, passed", and whether the server heard all of it. */
function ending(outcome: RunWrappedResult): string {
  const { text } = statusCode('k6', outcome.status, outcome.result);
  const result = outcome.result ? `, ${outcome.result}` : '';
  const heard = outcome.reported ? '' : ' (not every report reached the server; it may show otherwise)';
  return `run ${outcome.runId} ended: ${text}${result}${heard}`;
}

/** `1,2`: exit codes 1 to 255, comma-separated. */
function exitCodes(text: string | undefined): number[] {
  if (text === undefined) return [];
  const codes = text.split(',').map((part) => part.trim());
  for (const code of codes) {
    if (!/^\d+$/.test(code) || Number(code) < 1 || Number(code) > 255)
      throw new UsageError(
        `--failed-exit-codes: '${code}' is not an exit code from 1 to 255 (give them comma-separated, e.g. 1,2)`,
      );
  }
  return codes.map(Number);
}

function optionalDuration(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === null)
    throw new UsageError(`${name}: '${text}' is not a duration (seconds, or e.g. 90s, 5m, 1h30m)`);
  return ms;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** parseArgs reports unknown options and missing values with a code and a message naming them. */
function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}
