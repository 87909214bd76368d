import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import type { ChannelType } from '../channels/channel.js';
import { webhookChannel } from '../channels/webhook.js';
import { AppError } from '../core/errors.js';
import { credentialKeys, requireCredentialsForDestination, resolveChannelConfig } from './channel-config.js';

const mailLike: ChannelType = {
  ...webhookChannel,
  type: 'mail-like',
  label: 'Mail-like',
  config: {
    schema: Type.Object(
      {
        host: Type.String({ minLength: 1 }),
        port: Type.Integer({ minimum: 1, maximum: 65535, default: 587 }),
        password: Type.Optional(Type.String()),
        to: Type.Array(Type.String(), { minItems: 1 }),
      },
      { additionalProperties: false },
    ),
    fields: {
      host: { label: 'Host' },
      port: { label: 'Port' },
      password: { label: 'Password' },
      to: { label: 'To' },
    },
    secret: ['password'],
    check: (c) =>
      (c.host as string).includes(' ') ? { field: 'config.host', message: 'config.host has a space' } : null,
  },
};

function problem(fn: () => unknown): { status: number; message: string; field: string | undefined } {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    const [detail] = (err.details as { field: string }[] | undefined) ?? [];
    return { status: err.status, message: err.message, field: detail?.field };
  }
  throw new Error('expected an error');
}

describe('resolveChannelConfig', () => {
  it('fills defaults and splits the secret fields from the shown ones', () => {
    expect(resolveChannelConfig(mailLike, { host: 'smtp', to: ['a@b'], password: 'pw' })).toEqual({
      config: { host: 'smtp', port: 587, to: ['a@b'] },
      secrets: { password: 'pw' },
    });
  });

  it('names the field of the first problem, under config', () => {
    expect(problem(() => resolveChannelConfig(mailLike, { host: 'smtp', to: [] }))).toEqual({
      status: 400,
      field: 'config.to',
      message: "config.to can't be an empty list",
    });
    expect(problem(() => resolveChannelConfig(mailLike, { to: ['a@b'] }))).toMatchObject({
      field: 'config.host',
      message: 'config.host is required',
    });
    expect(problem(() => resolveChannelConfig(mailLike, { host: 'h', to: ['a'], tls: true }))).toMatchObject({
      field: 'config.tls',
      message: 'config.tls is not a known field',
    });
    expect(problem(() => resolveChannelConfig(mailLike, { host: 'h', port: '25', to: ['a'] }))).toMatchObject(
      {
        field: 'config.port',
      },
    );
    expect(problem(() => resolveChannelConfig(mailLike, { host: 'a b', to: ['a'] }))).toMatchObject({
      field: 'config.host',
      message: 'config.host has a space',
    });
  });

  it('keeps saved values a PATCH leaves out, and removes those it sets to null', () => {
    const saved = { host: 'smtp', port: 2525, to: ['a@b'], password: 'old' };
    expect(resolveChannelConfig(mailLike, { host: 'mx' }, saved)).toEqual({
      config: { host: 'mx', port: 2525, to: ['a@b'] },
      secrets: { password: 'old' },
    });
    expect(resolveChannelConfig(mailLike, { port: null, password: null }, saved)).toEqual({
      config: { host: 'smtp', port: 587, to: ['a@b'] },
      secrets: {},
    });
  });

  it('does not change the caller’s objects', () => {
    const input = { host: 'smtp', to: ['a@b'] };
    const saved = { port: 25 };
    resolveChannelConfig(mailLike, input, saved);
    expect(input).toEqual({ host: 'smtp', to: ['a@b'] });
    expect(saved).toEqual({ port: 25 });
  });

  it('refuses settings for a type that has none', () => {
    expect(problem(() => resolveChannelConfig(webhookChannel, { x: 1 }))).toMatchObject({
      status: 400,
      field: 'config.x',
    });
    expect(resolveChannelConfig(webhookChannel, {})).toEqual({ config: {}, secrets: {} });
    expect(resolveChannelConfig(webhookChannel, undefined)).toEqual({ config: {}, secrets: {} });
  });
});

describe('requireCredentialsForDestination', () => {
  const typed: ChannelType = { ...mailLike, config: { ...mailLike.config!, destination: ['host', 'port'] } };
  const saved = {
    url: 'smtp://a.example.com:587',
    values: { host: 'a.example.com', port: 587, password: 'pw', to: ['x'] },
  };
  const moveTo = (values: Record<string, unknown>, url = saved.url) => ({
    url,
    values: { ...saved.values, ...values },
  });
  const fields = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      expect((err as AppError).code).toBe('secrets_required');
      return ((err as AppError).details as { field: string }[]).map((d) => d.field);
    }
    return [];
  };

  it('asks for every saved credential when a destination key or the URL changes', () => {
    const input = { host: 'evil.example.com' };
    expect(fields(() => requireCredentialsForDestination(typed, input, saved, moveTo(input)))).toEqual([
      'config.password',
    ]);
    expect(
      fields(() => requireCredentialsForDestination(typed, undefined, saved, moveTo({}, 'smtp://b:25'))),
    ).toEqual(['config.password']);
  });

  it('lets a move through when the credential is given again or removed', () => {
    for (const password of ['new', null])
      expect(
        fields(() =>
          requireCredentialsForDestination(typed, { host: 'b', password }, saved, moveTo({ host: 'b' })),
        ),
      ).toEqual([]);
  });

  it('asks for nothing when the destination stays, or nothing secret was saved', () => {
    const same = { host: 'a.example.com', port: 587, to: ['y'] };
    expect(fields(() => requireCredentialsForDestination(typed, same, saved, moveTo(same)))).toEqual([]);
    const bare = { url: saved.url, values: { host: 'a.example.com', port: 587, to: ['x'] } };
    expect(
      fields(() =>
        requireCredentialsForDestination(typed, { port: 25 }, bare, {
          ...bare,
          values: { ...bare.values, port: 25 },
        }),
      ),
    ).toEqual([]);
    // Signing secrets are not settings (see the function's comment): of a webhook's settings,
    // only its custom headers and its Basic login follow its destination.
    expect(credentialKeys(webhookChannel)).toEqual(['headers', 'basic_auth_username', 'basic_auth_password']);
  });
});
