import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { makeDataDir, SECRET_KEY_FILE } from './storage/data-dir.js';
import type { AlertTiming } from './storage/operator-alerts-repo.js';

/**
 * The engine's bounds on sends in flight, as deployed unless LOADNOTIFY_MAX_IN_FLIGHT and
 * LOADNOTIFY_PER_CHANNEL say otherwise: in all (a host may have as many connections), and to
 * one channel (what one dead receiver can hold).
 */
export const DEFAULT_MAX_IN_FLIGHT = 64;
export const DEFAULT_PER_CHANNEL = 4;
/** PostgreSQL connections in one process's pool unless LOADNOTIFY_PG_POOL_SIZE says otherwise. */
export const DEFAULT_PG_POOL_SIZE = 10;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** A postgres:// URL, or null for the embedded SQLite file under dataDir. */
  databaseUrl: string | null;
  /** 32-byte key for AES-256-GCM encryption of channel secrets. */
  secretKey: Buffer;
  /**
   * LOADNOTIFY_SECRET_KEY_PREVIOUS during a key rotation: still opens the values sealed with it
   * until `loadnotify rotate-key` has re-sealed them all; nothing new is sealed with it.
   */
  previousSecretKeys: Buffer[];
  publicUrl: string;
  /**
   * PUBLIC_URL was left unset, so publicUrl is the address the server listens on; with PORT=0
   * the port is known only once it listens (settleListenPort).
   */
  publicUrlFromListen: boolean;
  egressAllow: string;
  logLevel: string;
  role: 'all' | 'api' | 'worker';
  retentionDays: number;
  /** Total time one delivery attempt may take (connect, send, answer). */
  deliveryTimeoutMs: number;
  /** How long a claimed delivery stays with its worker before others may take it over. */
  leaseMs: number;
  /** Multiplies retry delays; values below 1 are for tests and demos only. */
  retryScale: number;
  /**
   * Addresses (or CIDRs, or proxy-addr's `loopback` / `linklocal` / `uniquelocal`) of reverse
   * proxies whose X-Forwarded-For / -Proto / -Host are believed; empty: none.
   */
  trustProxy: string[];
  /** Longest time the engine sleeps between looks at the queue when nothing wakes it. */
  pollMs: number;
  /** Sends a worker process has in flight at once, over all channels. */
  maxInFlight: number;
  /** Sends a worker process has in flight at once to one channel. */
  perChannel: number;
  /** PostgreSQL: the most connections this process's pool opens (the listener's is beside it). */
  pgPoolSize: number;
  /** An SMTP login without TLS is allowed to a loopback server (never to any other). */
  smtpPlaintextAuthLoopback: boolean;
  /** Who may create organizations: instance administrators, or any signed-in user. */
  orgCreation: 'admins' | 'anyone';
  /** What schedules may run: the operator's choices (API.md, Roles). */
  schedules: ScheduleCommandPolicy;
  /** The operator's own mail server for the service's mail (invitations); null: none. */
  systemMail: { url: string; from: string } | null;
  /**
   * How a channel's failures are gathered into operator alerts' mails (a minute's grace, then
   * at most one an hour); not from the environment: tests shorten it.
   */
  alertTiming?: AlertTiming;
}

/** Commands are the operator's to allow; by default no schedule runs a command. */
export interface ScheduleCommandPolicy {
  /** Absolute paths of the programs a schedule may start; empty: command schedules are off. */
  allowed: string[];
  /** The unprivileged account commands run as when the service runs as root. */
  user: { name: string; uid: number; gid: number; home: string } | null;
  /** Where commands start; never inside DATA_DIR. */
  cwd: string;
  /** Names of the service's environment variables passed on to commands, beyond the basics. */
  passEnv: string[];
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function port(value: string | undefined): number {
  if (value === undefined || value === '') return 8080;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ConfigError(`PORT must be a whole number from 0 to 65535, got "${value}"`);
  }
  return n;
}

function decodeKey(value: string, name = 'LOADNOTIFY_SECRET_KEY'): Buffer {
  const trimmed = value.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) {
    throw new ConfigError(
      `${name} must be 32 bytes, as 64 hex digits or base64 (generate one with: openssl rand -base64 32)`,
    );
  }
  return key;
}

/** The key a rotation moves away from, while one is under way (README, Key rotation). */
function previousSecretKeys(env: Env, current: Buffer): Buffer[] {
  const value = env.LOADNOTIFY_SECRET_KEY_PREVIOUS;
  if (!value || value.trim() === '') return [];
  const key = decodeKey(value, 'LOADNOTIFY_SECRET_KEY_PREVIOUS');
  if (key.equals(current)) {
    throw new ConfigError(
      'LOADNOTIFY_SECRET_KEY_PREVIOUS is the same key as LOADNOTIFY_SECRET_KEY: set LOADNOTIFY_SECRET_KEY to the new key',
    );
  }
  return [key];
}

/**
 * The keys in place, without making one: LOADNOTIFY_SECRET_KEY or else DATA_DIR/secret.key,
 * and LOADNOTIFY_SECRET_KEY_PREVIOUS. Null when there is no key yet (a fresh DATA_DIR).
 */
export function existingSecretKeys(env: Env, dataDir: string): { key: Buffer; previous: Buffer[] } | null {
  const value = env.LOADNOTIFY_SECRET_KEY;
  const file = path.join(dataDir, SECRET_KEY_FILE);
  const key = value ? decodeKey(value) : existsSync(file) ? decodeKey(readFileSync(file, 'utf8')) : null;
  return key ? { key, previous: previousSecretKeys(env, key) } : null;
}

/**
 * The embedded default keeps its key beside the database, generated once; PostgreSQL
 * deployments share one database between processes, so they must share an explicit key.
 */
function secretKey(env: Env, dataDir: string, databaseUrl: string | null): Buffer {
  if (databaseUrl && !env.LOADNOTIFY_SECRET_KEY) {
    throw new ConfigError('LOADNOTIFY_SECRET_KEY is required with DATABASE_URL (openssl rand -base64 32)');
  }
  const existing = existingSecretKeys(env, dataDir);
  if (existing) return existing.key;
  makeDataDir(dataDir);
  const key = randomBytes(32);
  writeFileSync(path.join(dataDir, SECRET_KEY_FILE), key.toString('base64') + '\n', {
    mode: 0o600,
    flag: 'wx',
  });
  return key;
}

const listenUrl = (host: string, portNumber: number) =>
  `http://${host.includes(':') ? `[${host}]` : host}:${portNumber}`;

/**
 * Once the server listens: with PORT=0 and no PUBLIC_URL, links (an invitation's accept_url, a
 * run's url) name the port the system picked, not port 0.
 */
export function settleListenPort(config: Config, listeningPort: number): void {
  if (config.publicUrlFromListen) config.publicUrl = listenUrl(config.host, listeningPort);
}

function publicUrl(value: string | undefined, host: string, portNumber: number): string {
  const fallback = listenUrl(host, portNumber);
  const raw = value && value.trim() !== '' ? value.trim() : fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`PUBLIC_URL must be an absolute http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`PUBLIC_URL must be an http or https URL, got "${raw}"`);
  }
  return raw.replace(/\/+$/, '');
}

function count(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0)
    throw new ConfigError(`${name} must be a whole number above 0, got "${raw}"`);
  return n;
}

function positive(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${name} must be a positive number, got "${raw}"`);
  return n;
}

const PROXY_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

/** A comma-separated setting's entries, trimmed, empty ones dropped. */
function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
}

/**
 * Only named proxies are trusted: with `true`, any client could claim any address in
 * X-Forwarded-For and sidestep the per-address sign-in throttle.
 */
function trustProxy(value: string | undefined): string[] {
  const entries = list(value);
  for (const e of entries) {
    if (!PROXY_RANGES.includes(e) && !ipaddr.isValid(e) && !ipaddr.isValidCIDR(e)) {
      throw new ConfigError(
        `TRUST_PROXY must list proxy addresses or CIDRs (or loopback, linklocal, uniquelocal), got "${e}"`,
      );
    }
  }
  return entries;
}

const isInside = (dir: string, parent: string) => {
  const rel = path.relative(parent, dir);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

/** An account from /etc/passwd by name, or numeric `uid:gid`. */
function scheduleUser(value: string): NonNullable<ScheduleCommandPolicy['user']> {
  const numeric = /^(\d+):(\d+)$/.exec(value);
  if (numeric) {
    const uid = Number(numeric[1]);
    if (uid === 0) throw new ConfigError('LOADNOTIFY_SCHEDULE_USER must not be root (uid 0)');
    return { name: value, uid, gid: Number(numeric[2]), home: '/' };
  }
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    /* no passwd file: only uid:gid works */
  }
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid, , home] = line.split(':');
    if (name !== value || uid === undefined || gid === undefined) continue;
    if (Number(uid) === 0) throw new ConfigError('LOADNOTIFY_SCHEDULE_USER must not be root (uid 0)');
    return { name, uid: Number(uid), gid: Number(gid), home: home || '/' };
  }
  throw new ConfigError(
    `LOADNOTIFY_SCHEDULE_USER: no account "${value}" in /etc/passwd (give a user name or uid:gid)`,
  );
}

function schedulePolicy(env: Env, dataDir: string): ScheduleCommandPolicy {
  const allowed = list(env.LOADNOTIFY_SCHEDULE_COMMANDS);
  for (const program of allowed) {
    if (!path.isAbsolute(program) || path.normalize(program) !== program) {
      throw new ConfigError(
        `LOADNOTIFY_SCHEDULE_COMMANDS must list programs by absolute path (such as /usr/bin/k6), got "${program}"`,
      );
    }
  }
  const userValue = env.LOADNOTIFY_SCHEDULE_USER?.trim();
  const user = userValue ? scheduleUser(userValue) : null;
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (allowed.length > 0 && asRoot && !user) {
    throw new ConfigError(
      'LOADNOTIFY_SCHEDULE_COMMANDS is set and the service runs as root: set LOADNOTIFY_SCHEDULE_USER ' +
        'to an unprivileged account for the commands (they never run as root)',
    );
  }
  const cwd = path.resolve(env.LOADNOTIFY_SCHEDULE_DIR?.trim() || user?.home || tmpdir());
  // Keeps relative paths in commands away from the database and the key; the files' modes and
  // the commands' own account are what keep absolute paths away.
  if (isInside(cwd, dataDir)) {
    throw new ConfigError(
      `LOADNOTIFY_SCHEDULE_DIR (${cwd}) must not be DATA_DIR (${dataDir}) or inside it: ` +
        'commands must not start beside the database and the secret key',
    );
  }
  const passEnv = list(env.LOADNOTIFY_SCHEDULE_ENV);
  for (const name of passEnv) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new ConfigError(`LOADNOTIFY_SCHEDULE_ENV must list variable names, got "${name}"`);
    if (SERVICE_SECRET_ENV.includes(name))
      throw new ConfigError(`LOADNOTIFY_SCHEDULE_ENV must not pass on the service's secret ${name}`);
  }
  return { allowed, user, cwd, passEnv };
}

/** The service's own secrets: never handed to a scheduled command. */
export const SERVICE_SECRET_ENV = [
  'LOADNOTIFY_SECRET_KEY',
  'LOADNOTIFY_SECRET_KEY_PREVIOUS',
  'DATABASE_URL',
  'LOADNOTIFY_TOKEN',
  'LOADNOTIFY_SMTP_URL',
];

/** A switch: 1/true or 0/false (unset and empty are off). */
function flag(env: Env, name: string): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new ConfigError(`${name} must be 1 or 0 (true or false), got "${env[name]}"`);
}

/**
 * Where the data is, and nothing else: for commands that handle the database as a whole
 * (backup, restore), which must not generate a secret key into an empty DATA_DIR.
 */
export function loadStorageConfig(env: Env = process.env): Pick<Config, 'dataDir' | 'databaseUrl'> {
  const dataDir = path.resolve(env.DATA_DIR || './data');
  const databaseUrl = env.DATABASE_URL ? env.DATABASE_URL : null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(
      'DATABASE_URL must start with postgres:// (unset it to use the embedded SQLite file)',
    );
  }
  return { dataDir, databaseUrl };
}

export function loadConfig(env: Env = process.env): Config {
  const { dataDir, databaseUrl } = loadStorageConfig(env);
  const key = secretKey(env, dataDir, databaseUrl);
  const p = port(env.PORT);
  const host = env.HOST || '127.0.0.1';
  const role = env.LOADNOTIFY_ROLE || 'all';
  if (role !== 'all' && role !== 'api' && role !== 'worker') {
    throw new ConfigError(`LOADNOTIFY_ROLE must be all, api or worker, got "${role}"`);
  }
  const retention = env.LOADNOTIFY_RETENTION_DAYS ? Number(env.LOADNOTIFY_RETENTION_DAYS) : 30;
  if (!Number.isFinite(retention) || retention <= 0) {
    throw new ConfigError(
      `LOADNOTIFY_RETENTION_DAYS must be a positive number, got "${env.LOADNOTIFY_RETENTION_DAYS}"`,
    );
  }
  const deliveryTimeoutMs = positive(env, 'LOADNOTIFY_DELIVERY_TIMEOUT_MS', 15_000);
  const leaseMs = positive(env, 'LOADNOTIFY_LEASE_MS', 60_000);
  // A lease that can run out while its send is still waiting lets another process send the
  // same delivery again; the lease must outlast the longest attempt.
  if (leaseMs <= deliveryTimeoutMs) {
    throw new ConfigError(
      `LOADNOTIFY_LEASE_MS (${leaseMs}) must be greater than LOADNOTIFY_DELIVERY_TIMEOUT_MS (${deliveryTimeoutMs})`,
    );
  }
  const maxInFlight = count(env, 'LOADNOTIFY_MAX_IN_FLIGHT', DEFAULT_MAX_IN_FLIGHT);
  const perChannel = count(env, 'LOADNOTIFY_PER_CHANNEL', DEFAULT_PER_CHANNEL);
  if (perChannel > maxInFlight) {
    throw new ConfigError(
      `LOADNOTIFY_PER_CHANNEL (${perChannel}) must not be greater than LOADNOTIFY_MAX_IN_FLIGHT (${maxInFlight})`,
    );
  }
  return {
    port: p,
    host,
    dataDir,
    databaseUrl,
    secretKey: key,
    previousSecretKeys: previousSecretKeys(env, key),
    publicUrl: publicUrl(env.PUBLIC_URL, host, p),
    publicUrlFromListen: !env.PUBLIC_URL?.trim(),
    egressAllow: env.LOADNOTIFY_EGRESS_ALLOW ?? '',
    logLevel: env.LOG_LEVEL || 'info',
    role,
    retentionDays: positive(env, 'LOADNOTIFY_RETENTION_DAYS', 30),
    deliveryTimeoutMs,
    leaseMs,
    retryScale: positive(env, 'LOADNOTIFY_RETRY_SCALE', 1),
    trustProxy: trustProxy(env.TRUST_PROXY),
    pollMs: positive(env, 'LOADNOTIFY_POLL_MS', 1000),
    maxInFlight,
    perChannel,
    pgPoolSize: count(env, 'LOADNOTIFY_PG_POOL_SIZE', DEFAULT_PG_POOL_SIZE),
    smtpPlaintextAuthLoopback: flag(env, 'LOADNOTIFY_SMTP_PLAINTEXT_AUTH_LOOPBACK'),
    orgCreation: orgCreation(env.LOADNOTIFY_ORG_CREATION),
    schedules: schedulePolicy(env, dataDir),
    systemMail: systemMail(env),
  };
}

function systemMail(env: Env): Config['systemMail'] {
  const raw = env.LOADNOTIFY_SMTP_URL?.trim();
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(
      'LOADNOTIFY_SMTP_URL must be a URL such as smtps://user:password@mail.example.com:465',
    );
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:')
    throw new ConfigError(`LOADNOTIFY_SMTP_URL must start with smtp:// or smtps://, got "${url.protocol}//"`);
  const from = env.LOADNOTIFY_SMTP_FROM?.trim();
  if (!from || !/^[^\s@]+@[^\s@]+$/.test(from.replace(/^.*<(.*)>$/, '$1')))
    throw new ConfigError('LOADNOTIFY_SMTP_FROM must be set to the sender address with LOADNOTIFY_SMTP_URL');
  return { url: raw, from };
}

function orgCreation(value: string | undefined): Config['orgCreation'] {
  if (value === undefined || value === '' || value === 'admins') return 'admins';
  if (value === 'anyone') return 'anyone';
  throw new ConfigError(`LOADNOTIFY_ORG_CREATION must be admins or anyone, got "${value}"`);
}
