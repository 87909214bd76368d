import { describe, expect, it } from 'vitest';
import { redactUrl } from './channels-repo.js';

describe('redactUrl', () => {
  it.each([
    ['https://ci.example.com/hooks/deadbeef1a2b', 'https://ci.example.com/hooks/****1a2b'],
    ['https://hooks.slack.com/services/T000/B000/XXXXabcd', 'https://hooks.slack.com/services/****abcd'],
    ['http://127.0.0.1:18082/hooks/abc', 'http://127.0.0.1:18082/hooks/****abc'],
    ['https://example.com/', 'https://example.com/****'],
    [
      'https://chat.example.com/v1/spaces/x/messages?key=k&token=secret99',
      'https://chat.example.com/v1/****et99',
    ],
  ])('%s → %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });
});
