/**
 * What the server logs about HTTP requests: nothing at the default level (info) for requests
 * that went well, one debug line each when asked for, and a warn line for a server error or
 * a request slower than a second, which show at the default level.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { createTestStore } from '../helpers/db.js';
import { makeApi } from '../helpers/server.js';

interface LogLine {
  level: number;
  msg: string;
  responseTime?: number;
  req?: { method: string; url: string };
  res?: { statusCode: number };
}

async function start(level: string) {
  const store = await createTestStore('sqlite');
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split('\n')) if (text) lines.push(JSON.parse(text) as LogLine);
      done();
    },
  });
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: store.dataDir,
    LOADNOTIFY_SECRET_KEY: randomBytes(32).toString('base64'),
  });
  const server = await startServer(config, { logger: { level, stream } as { level: string } });
  let token = '';
  const api = makeApi(server.url, () => token || null);
  const setup = await api('POST', '/api/v1/setup', {
    body: { email: 'o@example.com', password: 'correct horse', organization_name: 'Acme' },
  });
  token = setup.body.token;
  return { store, server, api, lines };
}

const about = (lines: LogLine[], url: string) => lines.filter((l) => l.req?.url === url);

/** A request whose body arrives in two halves, the second once `slowMs` have passed. */
function slowPost(base: string, path: string, token: string, slowMs: number): Promise<number> {
  const body = JSON.stringify({ name: 'Slowly named' });
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.write(body.slice(0, 5));
    setTimeout(() => req.end(body.slice(5)), slowMs);
  });
}

describe('request logs at the default level (info)', () => {
  let s: Awaited<ReturnType<typeof start>>;
  let token = '';
  beforeAll(async () => {
    s = await start('info');
    token = (await s.api('POST', '/api/v1/tokens', { body: { name: 'logs' } })).body.token;
  });
  afterAll(async () => {
    await s.server.close();
    await s.store.cleanup();
  });

  it('says nothing about requests that went well', async () => {
    expect((await s.api('GET', '/api/v1/me')).status).toBe(200);
    expect((await s.api('GET', '/api/v1/organizations/1/projects')).status).toBe(200);
    expect(s.lines.filter((l) => l.req)).toEqual([]);
    expect(s.lines.filter((l) => /request/.test(l.msg))).toEqual([]);
  });

  it('warns about a request slower than a second, with its time', async () => {
    const status = await slowPost(s.server.url, '/api/v1/organizations/1/projects', token, 1_200);
    expect(status).toBe(201);
    const lines = about(s.lines, '/api/v1/organizations/1/projects');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, msg: 'slow request', req: { method: 'POST' } });
    expect(lines[0]!.res).toMatchObject({ statusCode: 201 });
    expect(lines[0]!.responseTime).toBeGreaterThan(1_000);
  });

  it('warns about a request that ended in a server error', async () => {
    // The projects table gone from under the server: a real 500, not a simulated one.
    await sql`ALTER TABLE projects RENAME TO projects_gone`.execute(s.server.ctx.db.kysely);
    try {
      expect((await s.api('GET', '/api/v1/organizations/1/projects?limit=5')).status).toBe(500);
    } finally {
      await sql`ALTER TABLE projects_gone RENAME TO projects`.execute(s.server.ctx.db.kysely);
    }
    const lines = about(s.lines, '/api/v1/organizations/1/projects?limit=5');
    expect(lines.map((l) => [l.level, l.msg, l.res?.statusCode])).toEqual([[40, 'request failed', 500]]);
  });
});

describe('request logs at LOG_LEVEL=debug', () => {
  let s: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    s = await start('debug');
  });
  afterAll(async () => {
    await s.server.close();
    await s.store.cleanup();
  });

  it('has one debug line per request, with method, path, status and time', async () => {
    expect((await s.api('GET', '/api/v1/me')).status).toBe(200);
    const lines = about(s.lines, '/api/v1/me');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 20,
      msg: 'request completed',
      req: { method: 'GET', url: '/api/v1/me' },
      res: { statusCode: 200 },
    });
    expect(typeof lines[0]!.responseTime).toBe('number');
  });
});
