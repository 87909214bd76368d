/**
 * The benchmark's webhook receiver, in a process of its own (forked by main.ts) so that it gets
 * the same share of the machine when the plain-POST limit is measured as when the service sends.
 * Answers 204 at once; a path can be switched to hang or to answer 500 over IPC.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReceiverMessage =
  | { cmd: 'mode'; paths: Record<string, 'hang' | '500'> }
  | { cmd: 'record'; on: boolean }
  | { cmd: 'stats'; arrivals?: boolean };

export interface ReceiverStats {
  ok: number;
  failed: number;
  hung: number;
  /** [webhook-id, path, arrival time in ms since the epoch, sub-millisecond] while recording. */
  arrivals: [string, string, number][];
  sample: { headers: Record<string, string>; body: string } | null;
}

const now = () => performance.timeOrigin + performance.now();
let modes: Record<string, 'hang' | '500'> = {};
let recording = false;
let ok = 0;
let failed = 0;
let hung = 0;
let arrivals: [string, string, number][] = [];
let sample: ReceiverStats['sample'] = null;

const server = createServer((req, res) => {
  const at = now();
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const path = req.url ?? '/';
    const mode = modes[path];
    if (mode === 'hang') {
      hung++;
      return;
    }
    if (mode === '500') {
      failed++;
      res.writeHead(500).end();
      return;
    }
    ok++;
    if (recording) arrivals.push([String(req.headers['webhook-id']), path, at]);
    if (!sample && req.headers['webhook-id']) {
      const headers: Record<string, string> = {};
      for (const name of [
        'content-type',
        'user-agent',
        'x-loadimpact-id',
        'x-loadimpact-event',
        'webhook-id',
      ])
        headers[name] = String(req.headers[name]);
      sample = { headers, body: Buffer.concat(chunks).toString('utf8') };
    }
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 30_000;

process.on('message', (m: ReceiverMessage) => {
  if (m.cmd === 'mode') modes = m.paths;
  else if (m.cmd === 'record') {
    recording = m.on;
    arrivals = [];
  } else if (m.cmd === 'stats') {
    const stats: ReceiverStats = { ok, failed, hung, arrivals: m.arrivals ? arrivals : [], sample };
    process.send!(stats);
  }
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  process.send!({ port: (server.address() as AddressInfo).port });
});
