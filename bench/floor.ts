/**
 * The floor: the least any service can do for the benchmark's work on this machine, in a process
 * of its own (forked by main.ts), so that the engine's figures can be read against what is
 * possible at all, not only against plain POSTs that write nothing down.
 *
 * It does only what the benchmark asks for, the way the engine does it: a status change through
 * HTTP updates its run and writes its event and one delivery per channel, each leased, in one
 * transaction; once it has committed, each body is rendered from the event and signed
 * (Standard Webhooks HMAC), POSTed with a timeout, and the attempt's whole log row (request and
 * answer) is inserted with the delivery's new state, many per transaction. The bulk phase
 * writes its deliveries in large transactions, then claims them in batches, sends and records
 * them.
 *
 * Everything else is left out, so its figures are a ceiling for an engine that keeps the same
 * record: node:http instead of fastify, no authentication, roles or validation, no filters, no
 * per-channel bounds, no order within a run, no retries, no metrics or logs, and foreign keys
 * off. On SQLite: raw prepared better-sqlite3 statements instead of Kysely. On PostgreSQL:
 * one statement (data-modifying CTEs over unnested arrays) per status change and per batch
 * of outcomes, two per claim. The tables are the service's own, made by its migrations, with
 * all their indexes.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Agent } from 'undici';
import { signWebhook } from '../src/core/signing.js';
import { openDatabase } from '../src/storage/database.js';

export type FloorMessage =
  | {
      cmd: 'start';
      /** SQLite: its file goes here. */
      dataDir: string;
      /** PostgreSQL: a fresh schema's URL (its search_path set), or null for SQLite. */
      databaseUrl: string | null;
      receiverUrl: string;
      body: string;
      runs: number;
    }
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

/** A delivery to render: its webhook id, channel (1-based) and its event's data. */
interface ToRender {
  webhookId: string;
  channel: number;
  data: string;
}

/** A delivery leased to the floor, to render and send once its transaction has committed. */
interface Leased extends ToRender {
  deliveryId: number;
}

interface Rendered {
  url: string;
  headers: Record<string, string>;
  headersJson: string;
  body: string;
}

type Render = (d: ToRender, t: number) => Rendered;

/** An attempt that ended: its whole log row is written then, request and answer. */
interface Outcome {
  deliveryId: number;
  requestId: string;
  startedAt: number;
  url: string;
  headersJson: string;
  body: string;
  status: number;
  ms: number;
}

/** The floor's writes, one implementation per dialect, each as few statements as it can be. */
interface FloorStore {
  seedRuns(n: number): Promise<number[]>;
  /** The run's update, its event and a leased delivery per channel, in one transaction. */
  statusChange(runId: number, status: string): Promise<Leased[]>;
  /** Pending deliveries of test.started events of these runs, as the bench's bulk writes them. */
  writeBulk(runIds: number[]): Promise<void>;
  /** Leases up to `n` due deliveries. */
  claim(n: number): Promise<Leased[]>;
  /** Each attempt's log row, inserted whole, and its delivery's new state. */
  recordOutcomes(rows: Outcome[]): Promise<void>;
}

const eventType = (status: string) => (status === 'running' ? 'test.started' : 'test.finished');
const eventData = (runId: number, status: string, t: number) =>
  JSON.stringify({ run_id: runId, status, started_at: new Date(t).toISOString() });
const outcomeOf = (status: number) => (status >= 200 && status < 300 ? 'delivered' : 'failed');

class SqliteFloorStore implements FloorStore {
  private readonly db: SQLite.Database;
  private readonly s;

  constructor(file: string) {
    this.db = new SQLite(file);
    // The service's own settings (storage/database.ts), less the foreign keys.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('cache_size = -32000');
    this.db.pragma('wal_autocheckpoint = 10000');
    this.db.pragma('foreign_keys = OFF');
    this.s = {
      newRun: this.db.prepare(
        `INSERT INTO runs (load_test_id, project_id, organization_id, user_id, trigger, status, created_at)
         VALUES (1, 1, 1, NULL, 'api', 'created', ?) RETURNING id`,
      ),
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
        `INSERT INTO delivery_attempts (delivery_id, number, request_id, started_at, request_method, request_url,
           request_headers, request_body, duration_ms, response_status, response_headers, response_body, outcome)
         VALUES (?, 1, ?, ?, 'POST', ?, ?, ?, ?, ?, '{}', '', ?)`,
      ),
      deliveryDone: this.db.prepare(
        `UPDATE deliveries SET state = ?, attempts = attempts + 1, lease_until = NULL, lease_owner = NULL, updated_at = ?
         WHERE id = ?`,
      ),
      claim: this.db.prepare(
        `UPDATE deliveries SET lease_until = ?, lease_owner = 'floor'
         WHERE id IN (SELECT id FROM deliveries WHERE state = 'pending' AND lease_until IS NULL
           AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?)
         RETURNING id, event_id, channel_id, webhook_id`,
      ),
      eventData: this.db.prepare('SELECT data FROM events WHERE id = ?'),
    };
  }

  seedRuns(n: number): Promise<number[]> {
    return Promise.resolve(
      this.db.transaction(() =>
        Array.from({ length: n }, () => (this.s.newRun.get(Date.now()) as { id: number }).id),
      )(),
    );
  }

  statusChange(runId: number, status: string): Promise<Leased[]> {
    return Promise.resolve(
      this.db.transaction(() => {
        const t = Date.now();
        this.s.run.run(status, t, runId);
        const type = eventType(status);
        const data = eventData(runId, status, t);
        const eventId = (this.s.event.get(runId, type, data, t) as { id: number }).id;
        return Array.from({ length: CHANNELS }, (_, i) => {
          const webhookId = `msg_${randomUUID()}`;
          const deliveryId = (
            this.s.delivery.get(eventId, i + 1, runId, type, webhookId, t, t + LEASE_MS, 'floor', t, t) as {
              id: number;
            }
          ).id;
          return { deliveryId, webhookId, channel: i + 1, data };
        });
      })(),
    );
  }

  writeBulk(runIds: number[]): Promise<void> {
    this.db.transaction(() => {
      const t = Date.now();
      for (const runId of runIds) {
        const data = eventData(runId, 'running', t);
        const eventId = (this.s.event.get(runId, 'test.started', data, t) as { id: number }).id;
        for (let c = 1; c <= CHANNELS; c++)
          this.s.delivery.run(eventId, c, runId, 'test.started', `msg_${randomUUID()}`, t, null, null, t, t);
      }
    })();
    return Promise.resolve();
  }

  claim(n: number): Promise<Leased[]> {
    return Promise.resolve(
      this.db.transaction(() => {
        const t = Date.now();
        const rows = this.s.claim.all(t + LEASE_MS, t, n) as {
          id: number;
          event_id: number;
          channel_id: number;
          webhook_id: string;
        }[];
        return rows.map((r) => {
          const { data } = this.s.eventData.get(r.event_id) as { data: string };
          return { deliveryId: r.id, webhookId: r.webhook_id, channel: r.channel_id, data };
        });
      })(),
    );
  }

  recordOutcomes(rows: Outcome[]): Promise<void> {
    this.db.transaction(() => {
      const t = Date.now();
      for (const r of rows) {
        const outcome = outcomeOf(r.status);
        this.s.attempt.run(
          r.deliveryId,
          r.requestId,
          r.startedAt,
          r.url,
          r.headersJson,
          r.body,
          r.ms,
          r.status,
          outcome,
        );
        this.s.deliveryDone.run(outcome, t, r.deliveryId);
      }
    })();
    return Promise.resolve();
  }
}

class PostgresFloorStore implements FloorStore {
  constructor(private readonly pool: pg.Pool) {}

  async seedRuns(n: number): Promise<number[]> {
    const { rows } = await this.pool.query<{ id: number }>(
      `INSERT INTO runs (load_test_id, project_id, organization_id, user_id, trigger, status, created_at)
       SELECT 1, 1, 1, NULL, 'api', 'created', $1 FROM generate_series(1, $2::int) RETURNING id`,
      [Date.now(), n],
    );
    return rows.map((r) => r.id).sort((a, b) => a - b);
  }

  async statusChange(runId: number, status: string): Promise<Leased[]> {
    const t = Date.now();
    const type = eventType(status);
    const data = eventData(runId, status, t);
    const webhookIds = Array.from({ length: CHANNELS }, () => `msg_${randomUUID()}`);
    const { rows } = await this.pool.query<{ id: number; channel_id: number; webhook_id: string }>(
      `WITH run AS (UPDATE runs SET status = $1, started_at = $2 WHERE id = $3),
       ev AS (INSERT INTO events (organization_id, run_id, type, data, created_at) VALUES (1, $3, $4, $5, $2) RETURNING id)
       INSERT INTO deliveries (event_id, channel_id, organization_id, run_id, event_type, webhook_id, redelivery_of,
         state, attempts, next_attempt_at, lease_until, lease_owner, last_error, created_at, updated_at)
       SELECT ev.id, v.channel_id, 1, $3, $4, v.webhook_id, NULL, 'pending', 0, $2, $8, 'floor', NULL, $2, $2
       FROM ev, unnest($6::bigint[], $7::text[]) AS v(channel_id, webhook_id)
       RETURNING id, channel_id, webhook_id`,
      [status, t, runId, type, data, webhookIds.map((_, i) => i + 1), webhookIds, t + LEASE_MS],
    );
    return rows.map((row) => ({
      deliveryId: row.id,
      webhookId: row.webhook_id,
      channel: row.channel_id,
      data,
    }));
  }

  async writeBulk(runIds: number[]): Promise<void> {
    const t = Date.now();
    await this.pool.query(
      `WITH ev AS (INSERT INTO events (organization_id, run_id, type, data, created_at)
         SELECT 1, r, 'test.started', data, $3 FROM unnest($1::bigint[], $2::text[]) AS v(r, data) RETURNING id, run_id)
       INSERT INTO deliveries (event_id, channel_id, organization_id, run_id, event_type, webhook_id, redelivery_of,
         state, attempts, next_attempt_at, lease_until, lease_owner, last_error, created_at, updated_at)
       SELECT ev.id, c, 1, ev.run_id, 'test.started', 'msg_' || gen_random_uuid(), NULL, 'pending', 0, $3, NULL, NULL, NULL, $3, $3
       FROM ev CROSS JOIN generate_series(1, ${CHANNELS}) AS c`,
      [runIds, runIds.map((r) => eventData(r, 'running', t)), t],
    );
  }

  async claim(n: number): Promise<Leased[]> {
    const t = Date.now();
    const { rows } = await this.pool.query<{
      id: number;
      channel_id: number;
      webhook_id: string;
      data: string;
    }>(
      `UPDATE deliveries SET lease_until = $1, lease_owner = 'floor'
       WHERE id IN (SELECT id FROM deliveries WHERE state = 'pending' AND lease_until IS NULL AND next_attempt_at <= $2
                    ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING id, channel_id, webhook_id, (SELECT data FROM events e WHERE e.id = deliveries.event_id) AS data`,
      [t + LEASE_MS, t, n],
    );
    return rows.map((r) => ({
      deliveryId: r.id,
      webhookId: r.webhook_id,
      channel: r.channel_id,
      data: r.data,
    }));
  }

  async recordOutcomes(rows: Outcome[]): Promise<void> {
    await this.pool.query(
      `WITH o AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::int[], $4::text[], $5::text[], $6::bigint[],
                    $7::text[], $8::text[], $9::text[])
                    AS o(delivery_id, status, ms, outcome, request_id, started_at, url, headers, body)),
       a AS (INSERT INTO delivery_attempts (delivery_id, number, request_id, started_at, request_method, request_url,
               request_headers, request_body, duration_ms, response_status, response_headers, response_body, outcome)
             SELECT o.delivery_id, 1, o.request_id, o.started_at, 'POST', o.url, o.headers, o.body, o.ms, o.status, '{}', '',
               o.outcome FROM o)
       UPDATE deliveries d SET state = o.outcome, attempts = d.attempts + 1, lease_until = NULL, lease_owner = NULL,
         updated_at = $10 FROM o WHERE d.id = o.delivery_id`,
      [
        rows.map((r) => r.deliveryId),
        rows.map((r) => r.status),
        rows.map((r) => Math.round(r.ms)),
        rows.map((r) => outcomeOf(r.status)),
        rows.map((r) => r.requestId),
        rows.map((r) => r.startedAt),
        rows.map((r) => r.url),
        rows.map((r) => r.headersJson),
        rows.map((r) => r.body),
        Date.now(),
      ],
    );
  }
}

class Floor {
  private readonly agent = new Agent({ keepAliveTimeout: 30_000 });
  private readonly origin: string;
  private readonly template: Record<string, unknown>;
  private delivered = 0;
  private outcomes: Outcome[] = [];
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly store: FloorStore,
    receiverUrl: string,
    body: string,
  ) {
    this.origin = new URL(receiverUrl).origin;
    this.template = JSON.parse(body) as Record<string, unknown>;
  }

  /** Renders a delivery's body from its event and signs it, as the webhook channel does. */
  private readonly render: Render = (d, t) => {
    const body = JSON.stringify({ ...this.template, run: JSON.parse(d.data) as unknown });
    const timestamp = Math.floor(t / 1000);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'loadnotify-floor',
      'webhook-id': d.webhookId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook(SECRET, d.webhookId, timestamp, body),
    };
    return { url: `${this.origin}/c/${d.channel - 1}`, headers, headersJson: JSON.stringify(headers), body };
  };

  /** Sends and queues the outcome for the next batch of completions. */
  /** Renders (after its transaction committed, as the engine does), sends, queues the outcome. */
  private async send(d: Leased): Promise<void> {
    const startedAt = Date.now();
    const r = this.render(d, startedAt);
    const started = performance.now();
    let status: number;
    try {
      const res = await this.agent.request({
        origin: this.origin,
        path: `/c/${d.channel - 1}`,
        method: 'POST',
        headers: r.headers,
        body: r.body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await res.body.dump();
      status = res.statusCode;
    } catch {
      status = 0; // timed out or refused: recorded as failed
    }
    this.outcomes.push({
      deliveryId: d.deliveryId,
      requestId: randomUUID(),
      startedAt,
      url: r.url,
      headersJson: r.headersJson,
      body: r.body,
      status,
      ms: performance.now() - started,
    });
    this.flushing ??= new Promise((resolve) => setImmediate(resolve)).then(() => this.flush());
  }

  /** Writes the outcomes gathered so far in one transaction; those arriving meanwhile go next. */
  private async flush(): Promise<void> {
    while (this.outcomes.length > 0) {
      const rows = this.outcomes;
      this.outcomes = [];
      await this.store.recordOutcomes(rows);
      this.delivered += rows.filter((r) => outcomeOf(r.status) === 'delivered').length;
    }
    this.flushing = null;
  }

  /** POST /api/v1/runs/:id/status {"status": ...}: the API phase's one call. */
  listen(): Promise<number> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const runId = Number(/^\/api\/v1\/runs\/(\d+)\/status$/.exec(req.url ?? '')?.[1]);
        const { status } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { status: string };
        this.store.statusChange(runId, status).then(
          (sends) => {
            res
              .writeHead(200, { 'content-type': 'application/json' })
              .end(JSON.stringify({ id: runId, status }));
            for (const s of sends) void this.send(s);
          },
          (err: unknown) => res.writeHead(500).end(String(err)),
        );
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
    const runIds = await this.store.seedRuns(events);
    for (let i = 0; i < events; i += 200) await this.store.writeBulk(runIds.slice(i, i + 200));
    // Four batches of 32 in flight: as many sends as the engine may have (perChannel x channels).
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (;;) {
          const sends = await this.store.claim(32);
          if (sends.length === 0) return;
          await Promise.all(sends.map((s) => this.send(s)));
        }
      }),
    );
    while (this.flushing) await this.flushing;
    return this.count();
  }
}

async function openFloorStore(m: Extract<FloorMessage, { cmd: 'start' }>): Promise<FloorStore> {
  // The service's schema, by its own migrations.
  await (await openDatabase({ databaseUrl: m.databaseUrl, dataDir: m.dataDir })).close();
  if (m.databaseUrl === null) return new SqliteFloorStore(path.join(m.dataDir, 'loadnotify.sqlite'));
  // Foreign keys off, as on SQLite: the floor writes no organizations, channels or load tests.
  // (A superuser's setting: the bench's database is a local test one.) Set at connection start:
  // a SET sent from the pool's 'connect' event raced the first query on the same client, which
  // pg reports as a DeprecationWarning (the one the PostgreSQL bench printed).
  // The URL's own options (the bench's schema, as search_path) would replace a separate
  // `options` setting: the role is added to them.
  const url = new URL(m.databaseUrl);
  url.searchParams.set(
    'options',
    `${url.searchParams.get('options') ?? ''} -c session_replication_role=replica`.trim(),
  );
  const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
  return new PostgresFloorStore(pool);
}

let floor: Floor | null = null;

process.on('message', (m: FloorMessage) => {
  void (async () => {
    if (m.cmd === 'start') {
      const store = await openFloorStore(m);
      floor = new Floor(store, m.receiverUrl, m.body);
      const runs = await store.seedRuns(m.runs);
      if (runs[0] !== 1) throw new Error(`the floor's runs start at ${runs[0]}, not 1`);
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
