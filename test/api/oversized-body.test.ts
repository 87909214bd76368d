/**
 * A body over the 1 MiB limit is answered 413 before the client has finished sending it. Node's
 * own fetch (undici), talking to the server as a separate process the way scripts and
 * `loadnotify run` do, must still read that answer: a server that closes the socket while the
 * client is still writing makes fetch fail with EPIPE instead.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../helpers/build.js';
import { startServe, type ServeProcess } from '../helpers/serve-process.js';

let serve: ServeProcess;
let cleanup: () => Promise<void> = async () => {};
let dataDir = '';
let token = '';
beforeAll(async () => {
  const build = await buildServer();
  cleanup = build.cleanup;
  dataDir = await mkdtemp(path.join(tmpdir(), 'loadnotify-413-'));
  serve = await startServe({
    entry: build.entry,
    env: { DATA_DIR: dataDir, LOADNOTIFY_SECRET_KEY: randomBytes(32).toString('base64') },
  });
  const setup = await fetch(`${serve.url}/api/v1/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'o@example.com', password: 'correct horse', organization_name: 'Acme' }),
  });
  token = ((await setup.json()) as { token: string }).token;
}, 90_000);
afterAll(async () => {
  await serve?.stop();
  await cleanup();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const post = (body: BodyInit) =>
  fetch(`${serve.url}/api/v1/organizations/1/projects`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
    duplex: 'half',
  } as RequestInit);

/** The answer, or the error fetch failed with (its cause's code: EPIPE, ECONNRESET, ...). */
async function attempt(body: () => BodyInit): Promise<string> {
  try {
    const res = await post(body());
    return `${res.status} ${JSON.stringify(await res.json())}`;
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return `fetch failed: ${cause?.code ?? cause?.message ?? String(err)}`;
  }
}

const TOO_LARGE = `413 ${JSON.stringify({
  error: { code: 'payload_too_large', message: 'the request body is over 1 MiB' },
})}`;

describe('a body over 1 MiB, sent by fetch to a server process', () => {
  it('is a readable 413 ten times out of ten when its Content-Length is known', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(8 * 1024 * 1024) });
    const answers: string[] = [];
    for (let i = 0; i < 10; i++) answers.push(await attempt(() => big));
    expect(answers).toEqual(Array(10).fill(TOO_LARGE));
  });

  it('is a readable 413 for a streamed body of unknown length', async () => {
    const chunk = new Uint8Array(256 * 1024).fill(0x20);
    const streamed = () => {
      let sent = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ >= 32) controller.close();
          else controller.enqueue(chunk);
        },
      }) as unknown as BodyInit;
    };
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) answers.push(await attempt(streamed));
    expect(answers).toEqual(Array(5).fill(TOO_LARGE));
  });

  it('leaves the server answering the next request', async () => {
    const res = await fetch(`${serve.url}/api/v1/organizations/1/projects`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
  });
});
