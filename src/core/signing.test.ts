import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  generateSigningSecret,
  signatureHeader,
  signWebhook,
  verifyWebhook,
  WebhookVerificationError,
} from './signing.js';

// The Standard Webhooks reference test vector (its libraries' test suites use it).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const reason = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof WebhookVerificationError) return err.reason;
    throw err;
  }
  return 'verified';
};

describe('Standard Webhooks signatures', () => {
  const at = new Date(VECTOR.timestamp * 1000);
  const headers = (over: Record<string, string> = {}) => ({
    'webhook-id': VECTOR.id,
    'webhook-timestamp': String(VECTOR.timestamp),
    'webhook-signature': VECTOR.signature,
    ...over,
  });

  it('signs the reference vector', () => {
    expect(signWebhook(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
  });

  it('verifies the reference vector, with any header case and a Headers object', () => {
    expect(verifyWebhook(VECTOR.secret, headers(), VECTOR.body, { now: at })).toEqual({
      id: VECTOR.id,
      timestamp: at,
    });
    const upper = { 'Webhook-Id': VECTOR.id, 'WEBHOOK-TIMESTAMP': String(VECTOR.timestamp) };
    expect(
      reason(() =>
        verifyWebhook(VECTOR.secret, { ...upper, 'webhook-signature': VECTOR.signature }, VECTOR.body, {
          now: at,
        }),
      ),
    ).toBe('verified');
    expect(
      reason(() =>
        verifyWebhook(VECTOR.secret, new Headers(headers()), Buffer.from(VECTOR.body), { now: at }),
      ),
    ).toBe('verified');
  });

  it('refuses a tampered body, a wrong secret and a changed id', () => {
    expect(reason(() => verifyWebhook(VECTOR.secret, headers(), VECTOR.body + ' ', { now: at }))).toBe(
      'no_matching_signature',
    );
    expect(reason(() => verifyWebhook(generateSigningSecret(), headers(), VECTOR.body, { now: at }))).toBe(
      'no_matching_signature',
    );
    expect(
      reason(() =>
        verifyWebhook(VECTOR.secret, headers({ 'webhook-id': 'msg_other' }), VECTOR.body, { now: at }),
      ),
    ).toBe('no_matching_signature');
  });

  it('refuses stale and future timestamps beyond the tolerance, and accepts them within it', () => {
    const later = (s: number) => new Date((VECTOR.timestamp + s) * 1000);
    expect(reason(() => verifyWebhook(VECTOR.secret, headers(), VECTOR.body, { now: later(301) }))).toBe(
      'timestamp_too_old',
    );
    expect(reason(() => verifyWebhook(VECTOR.secret, headers(), VECTOR.body, { now: later(-301) }))).toBe(
      'timestamp_too_new',
    );
    expect(reason(() => verifyWebhook(VECTOR.secret, headers(), VECTOR.body, { now: later(299) }))).toBe(
      'verified',
    );
    expect(
      reason(() =>
        verifyWebhook(VECTOR.secret, headers(), VECTOR.body, { now: later(3600), toleranceSeconds: 7200 }),
      ),
    ).toBe('verified');
    expect(
      reason(() =>
        verifyWebhook(VECTOR.secret, headers({ 'webhook-timestamp': '16e8' }), VECTOR.body, { now: at }),
      ),
    ).toBe('invalid_timestamp');
  });

  it('names a missing header and a secret that is not base64', () => {
    const { 'webhook-signature': _, ...unsigned } = headers();
    expect(() => verifyWebhook(VECTOR.secret, unsigned, VECTOR.body, { now: at })).toThrow(
      /webhook-signature header is missing/,
    );
    expect(reason(() => verifyWebhook('whsec_!!!', headers(), VECTOR.body, { now: at }))).toBe(
      'invalid_secret',
    );
  });

  it('accepts any one of several signatures, as during a rotation, and skips other versions', () => {
    const [a, b] = [generateSigningSecret(), generateSigningSecret()];
    const header = signatureHeader([a, b], VECTOR.id, VECTOR.timestamp, VECTOR.body);
    expect(header.split(' ')).toHaveLength(2);
    for (const secret of [a, b])
      expect(
        reason(() =>
          verifyWebhook(secret, headers({ 'webhook-signature': `v2,abc ${header}` }), VECTOR.body, {
            now: at,
          }),
        ),
      ).toBe('verified');
    expect(
      reason(() =>
        verifyWebhook(VECTOR.secret, headers({ 'webhook-signature': header }), VECTOR.body, { now: at }),
      ),
    ).toBe('no_matching_signature');
  });

  it('agrees with the standardwebhooks library both ways', () => {
    const secret = generateSigningSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const now = Math.floor(Date.now() / 1000);
    const body = '{"event":"test.started"}';
    const ours = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(now),
      'webhook-signature': signWebhook(secret, 'msg_1', now, body),
    };
    expect(new Webhook(secret).verify(body, ours)).toEqual({ event: 'test.started' });
    const theirs = new Webhook(secret).sign('msg_1', new Date(now * 1000), body);
    expect(reason(() => verifyWebhook(secret, { ...ours, 'webhook-signature': theirs }, body))).toBe(
      'verified',
    );
  });
});
