import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { catalogueEntry, CHANNEL_CATALOGUE } from './catalogue.js';
import { slackChannel } from './slack.js';

const withConfig = (fields: Record<string, { label: string; more?: boolean }>) => ({
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

  it('folds away only what a channel can be saved without', () => {
    expect(() => catalogueEntry(withConfig({ host: { label: 'Host', more: true } }))).toThrow(
      /config\.host is required, so it cannot be under More settings/,
    );
    const folded = (type: string) =>
      CHANNEL_CATALOGUE.find((t) => t.type === type)!
        .fields.filter((f) => f.more)
        .map((f) => f.key);
    expect(folded('webhook')).toEqual([
      'template',
      'content_type',
      'template_engine',
      'header_style',
      'headers',
      'basic_auth_username',
      'basic_auth_password',
    ]);
    expect(folded('email')).toEqual(['template_engine', 'subject_template', 'html_template']);
    expect(folded('slack')).toEqual([]);
  });

  it('reads kind, required and default from the schema', () => {
    expect(catalogueEntry(withConfig({ host: { label: 'Host' } })).fields).toEqual([
      expect.objectContaining({ key: 'host', kind: 'text', required: true, default: null, secret: false }),
    ]);
  });
});
