/**
 * The floor: the least any service can do for the benchmark's work on this machine, in a process
 * of its own (forked by main.ts), so that the engine's figures can be read against what is
 * possible at all, not only against plain POSTs that write nothing down.
 *
 * It does only what the benchmark asks for, the way the engine does it: a status change through
 * HTTP updates its run and writes its event and one delivery per channel, each leased with its
 * first attempt's log row (request headers and body), in one SQLite transaction; the body is
 * rendered from the event and signed (Standard Webhooks HMAC) per delivery; it is POSTed with a
 * timeout; the answer is written back to the attempt and the delivery, many per transaction.
 * The bulk phase writes its deliveries in large transactions, then claims them in batches with
 * their attempts, sends and records them.
 *
 * Everything else is left out, so its figures are a ceiling for an engine that keeps the same
 * record: node:http instead of fastify, no authentication, roles or validation, no filters, no
 * per-channel bounds, no order within a run, no retries, no metrics or logs, raw prepared
 * better-sqlite3 statements instead of Kysely, and foreign keys off. The tables are the
 * service's own, made by its migrations, with all their indexes. SQLite only.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Agent } from 'undici';
import { signWebhook } from '../src/core/signing.js';
import { openDatabase } from '../src/storage/database.js';

export type FloorMessage =
  | { cmd: 'start'; dataDir: string; receiverUrl: string; body: string; runs: number }
  | { cmd: 'count' }
  | { cmd: 'bulk'; events: number };

/** `delivered`: deliveries whose delivered attempt is committed; `cpuMs`: this process so far. */
export interface FloorCount {
  delivered: number;
  cpuMs: number;
}

export type FloorReply = { port: number } | FloorCount;

const CHANNELS = 10;
const LEASE_MS = 30_000;
const TIMEOUT_MS = 2_000;
const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

class Floor {
  private readonly db: SQLite.Database;
  private readonly agent = new Agent({ keepAliveTimeout: 30_000 });
  private readonly origin: string;
  private readonly template: Record<string, unknown>;
  private delivered = 0;
  private outcomes: { deliveryId: number; attemptId: number; status: number; ms: number }[] = [];
  private flushing = false;
  private readonly statements;
  private readonly recordOutcomes;
  private readonly statusChange;
  private readonly writeBulk;
  private readonly claim;

  constructor(file: string, receiverUrl: string, body: string) {
    this.db = new SQLite(file);
    // The service's own settings (storage/database.ts), less the foreign keys.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('cache_size = -32000');
    this.db.pragma('wal_autocheckpoint = 10000');
    this.db.pragma('foreign_keys = OFF');
    this.origin = new URL(receiverUrl).origin;
    this.template = JSON.parse(body) as Record<string, unknown>;
    const s = {
      run: this.db.prepare('UPDATE runs SET status = ?, started_at = ? WHERE id = ?'),
      event: this.db.prepare(
        'INSERT INTO events (organization_id, run_id, type, data, created_at) VALUES (1, ?, ?, ?, ?) RETURNING id',
      ),
      delivery: this.db.prepare(
        `INSERT INTO deliveries (event_id, channel_id, organization_id, run_id, event_type, webhook_id,
           redelivery_of, state, attempts, next_attempt_at, lease_until, lease_owner, last_error, created_at, updated_at)
         VALUES (?, ?, 1, ?, ?, ?, NULL, 'pending', 0, ?, ?, ?, NULL, ?, ?) RETURNING id`,
      ),
      attempt: this.db.prepare(
        `INSERT INTO delivery_attempts (delivery_id, number, request_id, started_at, request_url, request_headers, request_body)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      ),
      attemptDone: this.db.prepare(
        `UPDATE delivery_attempts SET duration_ms = ?, response_status = ?, response_headers = ?, response_body = ?, outcome = ?
         WHERE id = ?`,
      ),
      deliveryDone: this.db.prepare(
        `UPDATE deliveries SET state = ?, attempts = attempts + 1, lease_until = NULL, lease_owner = NULL, updated_at = ?
         WHERE id = ?`,
      ),
      claim: this.db.prepare(
        `UPDATE deliveries SET lease_until = ?, lease_owner = 'floor'
         WHERE id IN (SELECT id FROM deliveries WHERE state = 'pending' AND lease_until IS NULL
           AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?)
         RETURNING id, event_id, channel_id, run_id, event_type, webhook_id`,
      ),
      eventData: this.db.prepare('SELECT data FROM events WHERE id = ?'),
    };
    this.statements = s;
    this.recordOutcomes = this.db.transaction((rows: Floor['outcomes']) => {
      const t = Date.now();
      for (const r of rows) {
        const ok = r.status >= 200 && r.status < 300;
        s.attemptDone.run(r.ms, r.status, '{}', '', ok ? 'delivered' : 'failed', r.attemptId);
        s.deliveryDone.run(ok ? 'delivered' : 'failed', t, r.deliveryId);
      }
    });
    this.statusChange = this.db.transaction((runId: number, status: string) => {
      const t = Date.now();
      s.run.run(status, t, runId);
      const type = status === 'running' ? 'test.started' : 'test.finished';
      const data = JSON.stringify({ run_id: runId, status, started_at: new Date(t).toISOString() });
      const eventId = (s.event.get(runId, type, data, t) as { id: number }).id;
      const sends: Send[] = [];
      for (let c = 1; c <= CHANNELS; c++) {
        const webhookId = `msg_${randomUUID()}`;
        const deliveryId = (
          s.delivery.get(eventId, c, runId, type, webhookId, t, t + LEASE_MS, 'floor', t, t) as { id: number }
        ).id;
        sends.push(this.startAttempt({ deliveryId, channel: c, webhookId, runId, data }, t));
      }
      return sends;
    });
    this.writeBulk = this.db.transaction((runIds: number[]) => {
      const t = Date.now();
      for (const runId of runIds) {
        const data = JSON.stringify({
          run_id: runId,
          status: 'running',
          started_at: new Date(t).toISOString(),
        });
        const eventId = (s.event.get(runId, 'test.started', data, t) as { id: number }).id;
        for (let c = 1; c <= CHANNELS; c++)
          s.delivery.run(eventId, c, runId, 'test.started', `msg_${randomUUID()}`, t, null, null, t, t);
      }
    });
    this.claim = this.db.transaction((n: number) => {
      const t = Date.now();
      const rows = s.claim.all(t + LEASE_MS, t, n) as {
        id: number;
        event_id: number;
        channel_id: number;
        run_id: number;
        webhook_id: string;
      }[];
      return rows.map((r) => {
        const { data } = s.eventData.get(r.event_id) as { data: string };
        return this.startAttempt(
          { deliveryId: r.id, channel: r.channel_id, webhookId: r.webhook_id, runId: r.run_id, data },
          t,
        );
      });
    });
  }

  /** Renders and signs a delivery's body and writes its attempt's log row (inside a transaction). */
  private startAttempt(d: Omit<Send, 'attemptId' | 'headers' | 'body'>, t: number): Send {
    const body = JSON.stringify({ ...this.template, run: JSON.parse(d.data) as unknown });
    const timestamp = Math.floor(t / 1000);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'loadnotify-floor',
      'webhook-id': d.webhookId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook(SECRET, d.webhookId, timestamp, body),
    };
    const attemptId = (
      this.statements.attempt.get(
        d.deliveryId,
        1,
        randomUUID(),
        t,
        `${this.origin}/c/${d.channel - 1}`,
        JSON.stringify(headers),
        body,
      ) as { id: number }
    ).id;
    return { ...d, attemptId, headers, body };
  }

  /** Sends and queues the outcome for the next batch of completions. */
  private async send(s: Send): Promise<void> {
    const started = performance.now();
    let status: number;
    try {
      const res = await this.agent.request({
        origin: this.origin,
        path: `/c/${s.channel - 1}`,
        method: 'POST',
        headers: s.headers,
        body: s.body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await res.body.dump();
      status = res.statusCode;
    } catch {
      status = 0; // timed out or refused: recorded as failed
    }
    this.outcomes.push({
      deliveryId: s.deliveryId,
      attemptId: s.attemptId,
      status,
      ms: performance.now() - started,
    });
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushing = false;
    const rows = this.outcomes;
    this.outcomes = [];
    this.recordOutcomes(rows);
    this.delivered += rows.filter((r) => r.status >= 200 && r.status < 300).length;
  }

  seedRuns(n: number): void {
    const insert = this.db.prepare(
      `INSERT INTO runs (load_test_id, project_id, organization_id, user_id, trigger, status, created_at)
       VALUES (1, 1, 1, NULL, 'api', 'created', ?)`,
    );
    this.db.transaction(() => {
      for (let i = 0; i < n; i++) insert.run(Date.now());
    })();
  }

  /** POST /api/v1/runs/:id/status {"status": ...}: the API phase's one call. */
  listen(): Promise<number> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const runId = Number(/^\/api\/v1\/runs\/(\d+)\/status$/.exec(req.url ?? '')?.[1]);
        const { status } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { status: string };
        const sends = this.statusChange(runId, status);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: runId, status }));
        for (const s of sends) void this.send(s);
      });
    });
    server.keepAliveTimeout = 30_000;
    return new Promise((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
    );
  }

  count(): FloorCount {
    return { delivered: this.delivered, cpuMs: cpuMs() };
  }

  /** Writes `events` events' deliveries, 200 events per transaction as the bench does, and drains them. */
  async bulk(events: number): Promise<FloorCount> {
    const first = (this.db.prepare('SELECT COALESCE(MAX(id), 0) + 1 AS id FROM runs').get() as { id: number })
      .id;
    this.seedRuns(events);
    for (let i = 0; i < events; i += 200)
      this.writeBulk(Array.from({ length: Math.min(200, events - i) }, (_, k) => first + i + k));
    const target = this.delivered + events * CHANNELS;
    // Four batches of 32 in flight: as many sends as the engine may have (perChannel x channels).
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (;;) {
          const sends = this.claim(32);
          if (sends.length === 0) return;
          await Promise.all(sends.map((s) => this.send(s)));
        }
      }),
    );
    while (this.delivered < target && (this.flushing || this.outcomes.length > 0))
      await new Promise((r) => setImmediate(r));
    return this.count();
  }
}

interface Send {
  deliveryId: number;
  attemptId: number;
  channel: number;
  webhookId: string;
  runId: number;
  data: string;
  headers: Record<string, string>;
  body: string;
}

let floor: Floor | null = null;

process.on('message', (m: FloorMessage) => {
  void (async () => {
    if (m.cmd === 'start') {
      // The service's schema, by its own migrations.
      await (await openDatabase({ databaseUrl: null, dataDir: m.dataDir })).close();
      floor = new Floor(path.join(m.dataDir, 'loadnotify.sqlite'), m.receiverUrl, m.body);
      floor.seedRuns(m.runs);
      process.send!({ port: await floor.listen() } satisfies FloorReply);
    } else if (m.cmd === 'count') process.send!(floor!.count() satisfies FloorReply);
    else process.send!((await floor!.bulk(m.events)) satisfies FloorReply);
  })().catch((err: unknown) => {
    process.stderr.write(`floor failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
