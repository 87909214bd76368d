/**
 * A stand-in for the loadnotify server's two runner endpoints, answering as API.md says, so
 * the runner's protocol can be tested before (and apart from) the real server. It records
 * every request, and can be told to fail the first N requests with a 5xx.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
  /** What the receiver answered. */
  answered: number;
}

export interface ReceiverOptions {
  token?: string;
  loadTestIds?: number[];
  /** Answer this many requests (any endpoint) with 500 before behaving. */
  failFirst?: number;
  runId?: number;
  /** Answer 400 to a status report that carries a summary, as a stricter server would. */
  rejectSummary?: boolean;
  /** Answer status reports with these statuses with 503 (an outage starting mid-run). */
  failStatuses?: string[];
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Only the requests answered 2xx, as `create:<trigger>` / `status:<status>`. */
  accepted(): string[];
  close(): Promise<void>;
}

export async function startReceiver(options: ReceiverOptions = {}): Promise<Receiver> {
  const token = options.token ?? 'test-token';
  const loadTestIds = new Set(options.loadTestIds ?? [1]);
  const runId = options.runId ?? 42;
  let failuresLeft = options.failFirst ?? 0;
  const requests: ReceivedRequest[] = [];

  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
    return status;
  };
  const error = (res: ServerResponse, status: number, code: string, message: string) =>
    answer(res, status, { error: { code, message } });

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string): number => {
    if (failuresLeft > 0) {
      failuresLeft--;
      return error(res, 500, 'internal', 'simulated failure');
    }
    if (req.headers.authorization !== `Bearer ${token}`) return error(res, 401, 'unauthorized', 'bad token');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return error(res, 400, 'invalid_json', 'body is not JSON');
    }
    const create = /^\/api\/v1\/load-tests\/(\d+)\/runs$/.exec(req.url ?? '');
    if (req.method === 'POST' && create) {
      const loadTestId = Number(create[1]);
      if (!loadTestIds.has(loadTestId)) return error(res, 404, 'not_found', 'load test not found');
      const run = {
        id: runId,
        load_test_id: loadTestId,
        trigger: body.trigger ?? 'manual',
        status: 'created',
      };
      return answer(res, 201, run);
    }
    const status = /^\/api\/v1\/runs\/(\d+)\/status$/.exec(req.url ?? '');
    if (req.method === 'POST' && status) {
      if (Number(status[1]) !== runId) return error(res, 404, 'not_found', 'run not found');
      if (options.failStatuses?.includes(String(body.status))) {
        return error(res, 503, 'unavailable', 'simulated outage');
      }
      if (options.rejectSummary && body.summary)
        return error(res, 400, 'invalid_body', 'summary: not allowed');
      return answer(res, 200, { id: runId, status: body.status, result: body.result ?? null });
    }
    return error(res, 404, 'not_found', 'no such route');
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const answered = handle(req, res, raw);
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        // recorded as empty; the answer already said why
      }
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        authorization: req.headers.authorization,
        body,
        answered,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    accepted: () =>
      requests
        .filter((r) => r.answered < 300)
        .map((r) =>
          r.path.endsWith('/runs') ? `create:${String(r.body.trigger)}` : `status:${String(r.body.status)}`,
        ),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port that nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
