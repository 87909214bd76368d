import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { catalogueEntry } from './catalogue.js';
import { slackChannel } from './slack.js';

const withConfig = (fields: Record<string, { label: string }>) => ({
  ...slackChannel,
  type: 'test',
  config: { schema: Type.Object({ host: Type.String() }), fields },
});

describe('catalogueEntry', () => {
  it('refuses a type whose config keys and form words disagree, naming the key', () => {
    expect(() => catalogueEntry(withConfig({}))).toThrow(/config\.host has no form words/);
    expect(() => catalogueEntry(withConfig({ host: { label: 'Host' }, port: { label: 'Port' } }))).toThrow(
      /keys its schema lacks: port/,
    );
  });

  it('reads kind, required and default from the schema', () => {
    expect(catalogueEntry(withConfig({ host: { label: 'Host' } })).fields).toEqual([
      expect.objectContaining({ key: 'host', kind: 'text', required: true, default: null, secret: false }),
    ]);
  });
});
