/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com/): the sender signs
 * `<webhook-id>.<webhook-timestamp>.<body>` with HMAC-SHA256 under the base64-decoded part of a
 * `whsec_` secret and sends `webhook-signature: v1,<base64>`, several space-separated during a
 * secret rotation. One module signs (the webhook channel) and verifies (`verifyWebhook`, exported
 * for receivers), so the two cannot drift apart.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
/** The specification allows 24 to 64 bytes; 32 is what HMAC-SHA256 can use in full. */
const SECRET_BYTES = 32;
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

/** A fresh `whsec_<base64 of 32 random bytes>` secret. */
export function generateSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

export type VerificationFailure =
  | 'invalid_secret'
  | 'missing_header'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'no_matching_signature';

export class WebhookVerificationError extends Error {
  constructor(
    readonly reason: VerificationFailure,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = Buffer.from(encoded, 'base64');
  // Buffer.from drops characters it cannot read; a round trip tells a real base64 secret apart.
  if (key.length === 0 || key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, ''))
    throw new WebhookVerificationError('invalid_secret', 'the secret is not whsec_ followed by base64');
  return key;
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`; `timestamp` is in unix seconds. */
export function signWebhook(
  secret: string,
  id: string,
  timestamp: number,
  body: string | Uint8Array,
): string {
  const mac = createHmac('sha256', secretKey(secret));
  mac.update(`${id}.${timestamp}.`);
  mac.update(body);
  return `v1,${mac.digest('base64')}`;
}

/** The `webhook-signature` value: one signature per secret, space-separated. */
export function signatureHeader(
  secrets: readonly string[],
  id: string,
  timestamp: number,
  body: string | Uint8Array,
): string {
  return secrets.map((secret) => signWebhook(secret, id, timestamp, body)).join(' ');
}

export type WebhookHeaders =
  Headers | Record<string, string | readonly string[] | undefined> | { get(name: string): string | null };

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(' ') : (value as string);
  }
  return undefined;
}

export interface VerifyOptions {
  /** How far `webhook-timestamp` may be from now, either way; 300 seconds by default. */
  toleranceSeconds?: number;
  /** The receiver's clock; for tests. */
  now?: Date;
}

export interface VerifiedWebhook {
  id: string;
  /** `webhook-timestamp` as a Date. */
  timestamp: Date;
}

/**
 * Checks a request the way a receiver should: the three headers present, the timestamp within
 * the tolerance (against replays), and one of the `v1` signatures made with `secret` over the
 * exact body bytes. Throws WebhookVerificationError, whose `reason` names what failed.
 */
export function verifyWebhook(
  secret: string,
  headers: WebhookHeaders,
  body: string | Uint8Array,
  options: VerifyOptions = {},
): VerifiedWebhook {
  const key = secretKey(secret);
  const id = header(headers, 'webhook-id');
  const stamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  for (const [name, value] of [
    ['webhook-id', id],
    ['webhook-timestamp', stamp],
    ['webhook-signature', signatures],
  ] as const) {
    if (!value) throw new WebhookVerificationError('missing_header', `the ${name} header is missing`);
  }
  if (!/^\d{1,15}$/.test(stamp!))
    throw new WebhookVerificationError('invalid_timestamp', 'webhook-timestamp is not unix seconds');
  const timestamp = Number(stamp);
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (now - timestamp > tolerance)
    throw new WebhookVerificationError(
      'timestamp_too_old',
      `webhook-timestamp is ${now - timestamp}s old, more than the ${tolerance}s allowed`,
    );
  if (timestamp - now > tolerance)
    throw new WebhookVerificationError(
      'timestamp_too_new',
      `webhook-timestamp is ${timestamp - now}s in the future, more than the ${tolerance}s allowed`,
    );
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
  let matched = false;
  for (const entry of signatures!.split(' ')) {
    const [version, encoded] = entry.split(',', 2);
    if (version !== 'v1' || !encoded) continue;
    const given = Buffer.from(encoded, 'base64');
    // Every candidate is compared, so the time taken says nothing about which one matched.
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  if (!matched)
    throw new WebhookVerificationError(
      'no_matching_signature',
      'no v1 signature in webhook-signature matches this secret and body',
    );
  return { id: id!, timestamp: new Date(timestamp * 1000) };
}
