#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { trimWhenIdle } from '../idle-trim.js';
import { startServer } from '../server.js';

const USAGE = `usage: loadnotify <command>

commands:
  serve     start the service (HTTP API, web app, delivery engine, scheduler);
            --role api|worker|all runs only the API, only delivery and schedules, or both
  migrate   bring the database schema up to date and exit
  run       run a load-test command and report its lifecycle (loadnotify run --help)
  admin     grant|revoke <email>, list: who is an instance administrator (run on the server)
  backup    <file>: a consistent copy of the SQLite database, taken while the service runs
  restore   <file>: put a backup in place of the SQLite database (stop the service first)
  rotate-key  re-seal every stored secret with LOADNOTIFY_SECRET_KEY, opening the old ones
            with LOADNOTIFY_SECRET_KEY_PREVIOUS (the service keeps running, given both)

configuration is read from the environment: PORT, HOST, DATA_DIR, DATABASE_URL,
LOADNOTIFY_SECRET_KEY, PUBLIC_URL, LOADNOTIFY_EGRESS_ALLOW (see the README); "run" also
reads LOADNOTIFY_URL and LOADNOTIFY_TOKEN`;

/** `serve [--role api|worker|all]`: the flag wins over LOADNOTIFY_ROLE; loadConfig checks it. */
function serveEnv(args: string[]): NodeJS.ProcessEnv {
  const { values } = parseArgs({ args, options: { role: { type: 'string' } }, strict: true });
  return values.role === undefined ? process.env : { ...process.env, LOADNOTIFY_ROLE: values.role };
}

async function serve(args: string[]): Promise<number> {
  const config = loadConfig(serveEnv(args));
  const server = await startServer(config);
  trimWhenIdle();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        server.app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return new Promise<number>(() => {});
}

async function migrate(): Promise<number> {
  const config = loadConfig();
  const { openDatabase } = await import('../storage/database.js');
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  await db.close();
  process.stdout.write('database is up to date\n');
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(rest);
      case 'migrate':
        return await migrate();
      case 'run': {
        const { runCommand } = await import('./run-command.js');
        return await runCommand(rest);
      }
      case 'admin': {
        const { adminCommand } = await import('./admin-command.js');
        return await adminCommand(rest);
      }
      case 'backup':
      case 'restore': {
        const { backupCommand, restoreCommand } = await import('./backup-command.js');
        return await (command === 'backup' ? backupCommand(rest) : restoreCommand(rest));
      }
      case 'rotate-key': {
        const { rotateKeyCommand } = await import('./rotate-key-command.js');
        return await rotateKeyCommand(rest);
      }
      case undefined:
      case '-h':
      case '--help':
        process.stdout.write(USAGE + '\n');
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`loadnotify: unknown command "${command}"\n\n${USAGE}\n`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`loadnotify: configuration error: ${err.message}\n`);
      return 78; // EX_CONFIG
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`loadnotify: ${(err as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`loadnotify: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
