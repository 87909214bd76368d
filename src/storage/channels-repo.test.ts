import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from '../security/secret-box.js';
import { redactUrl, shownUrl } from './channels-repo.js';

const LONG = 'deadbeefdeadbeefdeadbeef1a2b'; // 28 characters

describe('redactUrl', () => {
  it.each([
    [`https://ci.example.com/hooks/${LONG}`, 'https://ci.example.com/hooks/****1a2b'],
    [
      `https://hooks.slack.com/services/T000/B000/${LONG.slice(-24)}`,
      'https://hooks.slack.com/services/****1a2b',
    ],
    // A secret part shorter than 24 characters shows no character of itself.
    ['https://ci.example.com/hooks/deadbeef1a2b', 'https://ci.example.com/hooks/****'],
    ['https://hooks.slack.com/services/T000/B000/XXXXabcd', 'https://hooks.slack.com/services/****'],
    ['http://127.0.0.1:18082/hooks/abc', 'http://127.0.0.1:18082/hooks/****'],
    ['https://example.com/hook?token=AB', 'https://example.com/****'],
    ['https://example.com/hook?token=A', 'https://example.com/****'],
    [`https://example.com/hook?token=${'x'.repeat(23)}`, 'https://example.com/****'],
    [`https://example.com/hook?token=${'x'.repeat(20)}WXYZ`, 'https://example.com/****WXYZ'],
    ['https://example.com/', 'https://example.com/****'],
    [
      'https://chat.example.com/v1/spaces/x/messages?key=k&token=secret99',
      'https://chat.example.com/v1/****',
    ],
    // A first segment that is itself a token (a bot's key in the path) is not shown either.
    [
      'https://api.example.org/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage',
      'https://api.example.org/****',
    ],
    ['https://example.com/Ab3xYz/hook', 'https://example.com/****'],
    // Credentials in the authority never show.
    ['https://user:pa55@example.com/hook', 'https://example.com/****'],
    ['smtp://mail.example.com:587', 'smtp://mail.example.com:587'],
  ])('%s → %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });
});

describe('shownUrl', () => {
  const box = new SecretBox(randomBytes(32));
  it('recomputes what an older rule stored, and shows the origin only when the key cannot open it', () => {
    const url = 'https://example.com/hook?token=AB';
    expect(shownUrl({ url_sealed: box.seal(url), url_redacted: 'https://example.com/****AB' }, box)).toBe(
      'https://example.com/****',
    );
    const other = new SecretBox(randomBytes(32));
    expect(shownUrl({ url_sealed: other.seal(url), url_redacted: 'https://example.com/****AB' }, box)).toBe(
      'https://example.com/****',
    );
  });
});
