/**
 * The two calls the runner makes to the loadnotify API (API.md "Projects, load tests, runs").
 * Kept apart from process supervision so the scheduler and tests can supply their own client.
 * Errors say whether retrying can help: network failures, timeouts, 429 and 5xx are transient;
 * any other 4xx (bad token, unknown load test, invalid transition) is permanent.
 */
import type { RunSummary } from '../core/events.js';
import type { RunContext } from '../core/run-context.js';
import type { RunResult, RunStatus, Trigger } from '../core/run-status.js';

export interface StatusReport {
  status: RunStatus;
  result?: RunResult | null;
  summary?: RunSummary;
  /** What went wrong, with a terminal status: the run's `errors` in notifications. */
  errors?: { code?: number | null; detail: string }[];
}

/** A run just created: its id, and its page in the web app when the server says (`url`). */
export interface CreatedRun {
  id: number;
  url?: string;
}

export interface RunApi {
  /** `context`: where the run came from (the CI's commit and job, labels); sent only when given. */
  createRun(loadTestId: number, trigger: Trigger, context?: RunContext | null): Promise<CreatedRun>;
  reportStatus(runId: number, report: StatusReport): Promise<void>;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    /** The HTTP status, or null when no answer came (refused, reset, timed out). */
    readonly httpStatus: number | null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiClientOptions {
  /** e.g. http://127.0.0.1:8080; a path prefix (a reverse proxy's) is kept. */
  baseUrl: string;
  token?: string;
  /** Per request; an unanswered request must not hold the wrapper forever. */
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
}

export function createApiClient(options: ApiClientOptions): RunApi {
  const base = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const doFetch = options.fetch ?? fetch;

  async function post(path: string, body: unknown): Promise<unknown> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
    };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new ApiError(`cannot reach ${base}: ${describeFetchError(err)}`, true, null);
    }
    const text = await response.text().catch(() => '');
    if (response.ok) return text === '' ? null : safeJson(text);
    const transient = response.status === 429 || response.status >= 500;
    throw new ApiError(`${base} answered ${response.status}${errorDetail(text)}`, transient, response.status);
  }

  return {
    async createRun(loadTestId, trigger, context) {
      const run = await post(
        `/api/v1/load-tests/${loadTestId}/runs`,
        context ? { trigger, context } : { trigger },
      );
      const { id, url } = (run as { id?: unknown; url?: unknown } | null) ?? {};
      if (typeof id !== 'number' || !Number.isInteger(id) || id <= 0) {
        // A 2xx without a run id is not something a retry fixes (wrong URL behind a proxy, ...).
        throw new ApiError(`${base} created no run (no "id" in the answer)`, false, null);
      }
      return typeof url === 'string' ? { id, url } : { id };
    },
    async reportStatus(runId, report) {
      await post(`/api/v1/runs/${runId}/status`, report);
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** API.md's error body is `{"error": {"code", "message"}}`; show it when present. */
function errorDetail(text: string): string {
  const body = safeJson(text) as { error?: { code?: unknown; message?: unknown } } | null;
  const code = body?.error?.code;
  const message = body?.error?.message;
  if (typeof code === 'string' && typeof message === 'string') return ` ${code}: ${message}`;
  if (typeof message === 'string') return `: ${message}`;
  return '';
}

/** fetch hides the socket error (ECONNREFUSED, ...) in `cause`; that is the useful part. */
function describeFetchError(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'no answer in time';
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}
