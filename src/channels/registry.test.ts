import { describe, expect, it } from 'vitest';
import { CHANNEL_TYPES, getChannelType } from './registry.js';

describe('registry', () => {
  it('knows the types API.md requires', () => {
    for (const type of ['webhook', 'slack', 'hipchat']) expect(getChannelType(type)?.type).toBe(type);
  });

  it('knows the chat types of issue #6', () => {
    for (const type of ['msteams', 'discord', 'googlechat', 'mattermost']) {
      expect(getChannelType(type)?.type).toBe(type);
    }
  });

  it('answers undefined for an unknown type, even an Object.prototype key', () => {
    expect(getChannelType('carrier-pigeon')).toBeUndefined();
    expect(getChannelType('constructor')).toBeUndefined();
  });

  it('has one entry per type, each with a label', () => {
    const types = CHANNEL_TYPES.map((c) => c.type);
    expect(new Set(types).size).toBe(types.length);
    for (const c of CHANNEL_TYPES) expect(c.label).not.toBe('');
  });
});

describe('the integrations list', () => {
  it('gives each channel type a mark of its own', () => {
    // Two types with one mark (Google Chat's and Grafana's "G") read as one in the list.
    const marks = CHANNEL_TYPES.map((t) => t.mark);
    expect(new Set(marks).size).toBe(marks.length);
  });
});
