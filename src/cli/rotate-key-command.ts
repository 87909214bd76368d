/**
 * `loadnotify rotate-key`: re-seals every stored secret under LOADNOTIFY_SECRET_KEY while
 * LOADNOTIFY_SECRET_KEY_PREVIOUS still opens the old ones (README, Key rotation). Run on the
 * server with the service's environment; the service keeps serving meanwhile, given both keys.
 */
import { loadConfig } from '../config.js';

const USAGE = 'usage: loadnotify rotate-key   re-seal every stored secret with LOADNOTIFY_SECRET_KEY';

/**
 * For the crash test only: the process kills itself with SIGKILL right after re-sealing this
 * many channels, as a crash or an operator's kill would stop it halfway.
 */
const CRASH_AFTER = 'LOADNOTIFY_TEST_ROTATE_KEY_CRASH_AFTER';

export async function rotateKeyCommand(args: string[]): Promise<number> {
  if (args.length > 0) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = loadConfig();
  const { SecretBox } = await import('../security/secret-box.js');
  const { openDatabase } = await import('../storage/database.js');
  const { resealChannels } = await import('../storage/reseal.js');
  const box = new SecretBox(config.secretKey, config.previousSecretKeys);
  const crashAfter = Number(process.env[CRASH_AFTER] ?? 0);
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const result = await resealChannels(
      db.kysely,
      box,
      (p) => process.stdout.write(`looked at ${p.seen} of ${p.total} channels, re-sealed ${p.resealed}\n`),
      (done) => {
        if (crashAfter > 0 && done >= crashAfter) process.kill(process.pid, 'SIGKILL');
      },
    );
    for (const f of result.failed) {
      process.stderr.write(`loadnotify: channel ${f.id} was not re-sealed: ${f.error}\n`);
    }
    if (result.failed.length > 0) {
      process.stderr.write(
        `loadnotify: ${result.failed.length} channel(s) still need the old key; keep LOADNOTIFY_SECRET_KEY_PREVIOUS ` +
          'set, and set their URL and secret settings again (or give the key that sealed them) before dropping it\n',
      );
      return 1;
    }
    process.stdout.write(
      `every stored secret is sealed with LOADNOTIFY_SECRET_KEY (key id ${box.keyId}); ` +
        `${result.resealed} channel(s) re-sealed now. LOADNOTIFY_SECRET_KEY_PREVIOUS is no longer needed\n`,
    );
    return 0;
  } finally {
    await db.close();
  }
}
