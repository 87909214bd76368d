/**
 * `npm run bench:templates`: the service's own requests while hostile templates render. Starts
 * the built service as a child process (as main.ts does) on a temporary SQLite store, or a
 * fresh PostgreSQL schema when DATABASE_URL is set, and prints /healthz latency measured from
 * this process: idle, then while two clients send hostile template previews back to back
 * (they render in the service's template workers), then the cost of a fair template's preview.
 * Exits 1 if a hostile template was not refused with its limit. A few seconds; BENCH_SIZE=tiny
 * for CI.
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { startService } from './processes.js';
import { fmtSpread, now, sleep, spread } from './stats.js';
import { createStore } from './store.js';

const SECONDS = process.env.BENCH_SIZE === 'tiny' ? 0.5 : 3;
const HOSTILE = [
  '{% assign a = (1..4900000) | sample: 2 %}{{ a | size }}',
  '{% assign a = (1..300000) | map: "x" | uniq | map: "y" | uniq | map: "z" | uniq %}{{ a | size }}',
  '{% assign r = (1..100) %}{% for a in r %}{% for b in r %}{% for c in r %}{% for d in r %}' +
    '{% endfor %}{% endfor %}{% endfor %}{% endfor %}x',
  `{% assign a = (1..10000) %}{{ a | has_exp: "x", "${Array(1500).fill('x < 0').join(' or ')}" }}`,
];
const FAIR = '{"text": "{{ name }} #{{ load_test_run_id }} {{ status_text }}", "all": {{ payload | json }}}';

async function main(): Promise<void> {
  const store = await createStore(process.env.DATABASE_URL);
  const service = await startService(fileURLToPath(new URL('../src/cli/main.js', import.meta.url)), {
    DATA_DIR: store.dataDir,
    ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}),
    LOADNOTIFY_SECRET_KEY: randomBytes(32).toString('base64'),
    // The preview checks the URL as a save would; nothing is sent.
    LOADNOTIFY_EGRESS_ALLOW: '127.0.0.1',
    LOG_LEVEL: 'warn',
  });
  // One connection for /healthz, others for the previews: a probe never queues behind them.
  const health = new Pool(service.url, { connections: 1 });
  const api = new Pool(service.url, { connections: 4 });
  let token = '';
  const call = async (path: string, body: unknown) => {
    const res = await api.request({
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  };
  /** /healthz asked one after another while `running()`; the latencies in ms. */
  const probe = async (running: () => boolean): Promise<number[]> => {
    const times: number[] = [];
    while (running()) {
      const t = now();
      const res = await health.request({ method: 'GET', path: '/healthz' });
      await res.body.dump();
      times.push(now() - t);
      await sleep(5);
    }
    return times;
  };
  let wrong = 0;
  try {
    const setup = await call('/api/v1/setup', {
      email: 'bench@example.com',
      password: 'correct horse battery',
      organization_name: 'Bench',
    });
    token = setup.body.token;
    const preview = (template: string) =>
      call(`/api/v1/organizations/${setup.body.organization.id}/notification-channels/preview`, {
        type: 'webhook',
        url: 'http://127.0.0.1:9/hook',
        config: { template },
      });
    process.stdout.write(
      `loadnotify template bench: ${store.dialect}, ${cpus().length} cores, node ${process.version}\n`,
    );
    // Starts the workers: a first render pays for their start, as after any quiet spell.
    const first = await preview(FAIR);
    if (first.status !== 200)
      throw new Error(`a fair template did not preview: ${JSON.stringify(first.body)}`);
    const idleRss = service.rss().nowMb;

    const until = now() + SECONDS * 1000;
    const idle = spread(await probe(() => now() < until));
    process.stdout.write(`templates idle                                 /healthz ${fmtSpread(idle)}\n`);

    let busy = true;
    const renders: number[] = [];
    const reasons = new Set<string>();
    const hostile = async (client: number) => {
      for (let i = client; busy; i++) {
        const t = now();
        const res = await preview(HOSTILE[i % HOSTILE.length]!);
        renders.push(now() - t);
        const message = String(res.body?.error?.message ?? '');
        if (res.status !== 422 || !/limit exceeded/.test(message)) wrong++;
        reasons.add(message.replace(/^the template failed: (line \d+: )?/, '').split(':')[0]!);
      }
    };
    const clients = [hostile(0), hostile(1)];
    const end = now() + SECONDS * 1000;
    const during = spread(await probe(() => now() < end));
    busy = false;
    await Promise.all(clients);
    const r = spread(renders);
    process.stdout.write(
      `          2 clients sending hostile templates  /healthz ${fmtSpread(during)}\n` +
        `          hostile previews refused             ${r.n} (${[...reasons].join(', ')}), each p50 ${r.p50.toFixed(0)} ms, max ${r.max.toFixed(0)} ms; ` +
        `peak RSS ${service.rss().peakMb.toFixed(0)} MB (idle ${idleRss.toFixed(0)} MB)${wrong ? `; ${wrong} NOT refused with their limit` : ''}\n`,
    );

    const fair: number[] = [];
    const fairEnd = now() + SECONDS * 1000;
    while (now() < fairEnd) {
      const t = now();
      if ((await preview(FAIR)).status !== 200) wrong++;
      fair.push(now() - t);
    }
    process.stdout.write(`          a fair template's preview, serially  ${fmtSpread(spread(fair))}\n`);
    process.stdout.write(
      `SUMMARY templates ${store.dialect}: /healthz p50 ${during.p50.toFixed(1)} ms, max ${during.max.toFixed(1)} ms while hostile templates render (idle p50 ${idle.p50.toFixed(1)} ms, max ${idle.max.toFixed(1)} ms)\n`,
    );
  } finally {
    await health.close();
    await api.close();
    await service.stop();
    await store.cleanup();
  }
  if (wrong > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
