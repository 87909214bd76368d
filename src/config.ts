import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { DEFAULT_MAX_IN_FLIGHT, DEFAULT_PER_CHANNEL } from './delivery/limits.js';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** A postgres:// URL, or null for the embedded SQLite file under dataDir. */
  databaseUrl: string | null;
  /** 32-byte key for AES-256-GCM encryption of channel secrets. */
  secretKey: Buffer;
  publicUrl: string;
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

function decodeKey(value: string): Buffer {
  const trimmed = value.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) {
    throw new ConfigError(
      'LOADNOTIFY_SECRET_KEY must be 32 bytes, as 64 hex digits or base64 ' +
        '(generate one with: openssl rand -base64 32)',
    );
  }
  return key;
}

/**
 * The embedded default keeps its key beside the database, generated once; PostgreSQL
 * deployments share one database between processes, so they must share an explicit key.
 */
function secretKey(env: Env, dataDir: string, databaseUrl: string | null): Buffer {
  const value = env.LOADNOTIFY_SECRET_KEY;
  if (value) return decodeKey(value);
  if (databaseUrl) {
    throw new ConfigError('LOADNOTIFY_SECRET_KEY is required with DATABASE_URL (openssl rand -base64 32)');
  }
  const file = path.join(dataDir, 'secret.key');
  if (existsSync(file)) return decodeKey(readFileSync(file, 'utf8'));
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}

function publicUrl(value: string | undefined, host: string, portNumber: number): string {
  const fallback = `http://${host.includes(':') ? `[${host}]` : host}:${portNumber}`;
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

/**
 * Only named proxies are trusted: with `true`, any client could claim any address in
 * X-Forwarded-For and sidestep the per-address sign-in throttle.
 */
function trustProxy(value: string | undefined): string[] {
  const entries = (value ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  for (const e of entries) {
    if (!PROXY_RANGES.includes(e) && !ipaddr.isValid(e) && !ipaddr.isValidCIDR(e)) {
      throw new ConfigError(
        `TRUST_PROXY must list proxy addresses or CIDRs (or loopback, linklocal, uniquelocal), got "${e}"`,
      );
    }
  }
  return entries;
}

export function loadConfig(env: Env = process.env): Config {
  const dataDir = path.resolve(env.DATA_DIR || './data');
  const databaseUrl = env.DATABASE_URL ? env.DATABASE_URL : null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(
      'DATABASE_URL must start with postgres:// (unset it to use the embedded SQLite file)',
    );
  }
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
    secretKey: secretKey(env, dataDir, databaseUrl),
    publicUrl: publicUrl(env.PUBLIC_URL, host, p),
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
  };
}
