import type { LookupAddress, LookupOptions } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { classifyAddress, EgressRefusedError, guardedLookup, parseEgressAllow } from './egress-guard.js';
import type { LookupFunction } from './egress-guard.js';

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'a loopback address'],
    ['127.255.0.9', 'a loopback address'],
    ['0.0.0.0', 'an unspecified address'],
    ['0.1.2.3', 'an unspecified address'],
    ['10.1.2.3', 'a private address'],
    ['172.16.0.1', 'a private address'],
    ['192.168.1.1', 'a private address'],
    ['169.254.169.254', 'a link-local address'],
    ['100.64.0.1', 'a carrier-grade NAT (shared) address'],
    ['224.0.0.1', 'a multicast address'],
    ['255.255.255.255', 'the broadcast address'],
    ['240.0.0.1', 'a reserved address'],
    ['192.0.2.1', 'a reserved address'],
    ['198.18.0.1', 'a reserved address'],
    ['::', 'an unspecified address'],
    ['::1', 'a loopback address'],
    ['fe80::1', 'a link-local address'],
    ['fc00::1', 'a unique-local address'],
    ['fd12:3456::1', 'a unique-local address'],
    ['ff02::1', 'a multicast address'],
    ['2001:db8::1', 'a reserved address'],
    ['64:ff9b::7f00:1', 'a NAT64 address'],
    ['2002:7f00:1::', 'a 6to4 address'],
    ['::7f00:1', 'not a global unicast address'],
    ['fec0::1', 'a site-local address'],
  ])('refuses %s as %s', (address, description) => {
    expect(classifyAddress(address)).toMatchObject({ global: false, description });
  });

  it.each(['93.184.216.34', '8.8.8.8', '1.1.1.1', '2606:4700::1111', '2a00:1450:4001::1'])(
    'accepts global unicast %s',
    (address) => {
      expect(classifyAddress(address).global).toBe(true);
    },
  );

  it('judges IPv4-mapped IPv6 as the embedded IPv4 address', () => {
    expect(classifyAddress('::ffff:127.0.0.1')).toMatchObject({ judged: '127.0.0.1', global: false });
    expect(classifyAddress('::ffff:7f00:1')).toMatchObject({ judged: '127.0.0.1', global: false });
    expect(classifyAddress('::ffff:a00:1').description).toBe('a private address');
    expect(classifyAddress('::ffff:8.8.8.8').global).toBe(true);
  });
});

describe('parseEgressAllow', () => {
  it('allows nothing extra when unset or blank', () => {
    for (const value of [undefined, '', '   ']) {
      const policy = parseEgressAllow(value);
      expect(policy.entries).toEqual([]);
      expect(policy.checkAddress('127.0.0.1')).toContain('loopback');
      expect(policy.checkAddress('8.8.8.8')).toBeNull();
    }
  });

  it('parses hosts, IPs and CIDRs of both families', () => {
    const policy = parseEgressAllow(' 127.0.0.1, LocalHost ,10.0.0.0/8,::1/128,[fd00::5],hooks.internal. ');
    expect(policy.entries).toEqual([
      '127.0.0.1',
      'LocalHost',
      '10.0.0.0/8',
      '::1/128',
      '[fd00::5]',
      'hooks.internal.',
    ]);
    expect(policy.checkAddress('127.0.0.1')).toBeNull();
    expect(policy.checkAddress('::ffff:127.0.0.1')).toBeNull();
    expect(policy.checkAddress('127.0.0.2')).toContain('loopback');
    expect(policy.checkAddress('10.200.3.4')).toBeNull();
    expect(policy.checkAddress('::ffff:10.200.3.4')).toBeNull();
    expect(policy.checkAddress('11.0.0.1')).toBeNull(); // public anyway
    expect(policy.checkAddress('172.16.0.1')).toContain('private');
    expect(policy.checkAddress('::1')).toBeNull();
    expect(policy.checkAddress('fd00::5')).toBeNull();
    expect(policy.checkAddress('fd00::6')).toContain('unique-local');
    expect(policy.allowsHost('localhost')).toBe(true);
    expect(policy.allowsHost('LOCALHOST.')).toBe(true);
    expect(policy.allowsHost('hooks.internal')).toBe(true);
    expect(policy.allowsHost('evil.localhost')).toBe(false);
  });

  it('reads an IPv4-mapped CIDR as the IPv4 range', () => {
    const policy = parseEgressAllow('::ffff:192.168.0.0/112');
    expect(policy.checkAddress('192.168.7.7')).toBeNull();
    expect(policy.checkAddress('192.169.0.1')).toBeNull(); // public
    expect(policy.checkAddress('10.0.0.1')).toContain('private');
  });

  it.each([
    ['10.0.0.0/33', '"10.0.0.0/33"'],
    ['::1/129', '"::1/129"'],
    ['10.0.0.0/', '"10.0.0.0/"'],
    ['10.0.0.0/8/8', '"10.0.0.0/8/8"'],
    ['10/8', '"10/8"'],
    ['not a host!', '"not a host!"'],
    ['127.0.0.1,,localhost', 'entry 2 "" is empty'],
    ['localhost,', 'entry 2 "" is empty'],
    ['*.example.com', '"*.example.com"'],
    ['-bad.example', '"-bad.example"'],
    ['host:8080', '"host:8080"'],
    ['http://localhost', '"http://localhost"'],
    ['2130706433', '"2130706433"'],
    ['0x7f.1', '"0x7f.1"'],
    ['example.123', '"example.123"'],
    [`${'a'.repeat(64)}.example`, 'a'.repeat(64)],
  ])('rejects %j, naming the entry', (value, named) => {
    expect(() => parseEgressAllow(value)).toThrow(named);
    expect(() => parseEgressAllow(value)).toThrow('LOADNOTIFY_EGRESS_ALLOW');
  });

  it('accepts internationalized names in their punycode form', () => {
    expect(parseEgressAllow('bücher.example').allowsHost('xn--bcher-kva.example')).toBe(true);
  });
});

describe('checkUrl (save-time pre-check)', () => {
  const policy = parseEgressAllow('127.0.0.1,localhost');

  it.each([
    [
      'http://127.0.0.2:8080/x',
      '127.0.0.2 is a loopback address; add it to LOADNOTIFY_EGRESS_ALLOW to allow it',
    ],
    ['http://2130706434/', '127.0.0.2 is a loopback address'],
    ['http://0x7f.0.0.2/', '127.0.0.2 is a loopback address'],
    ['http://0177.0.0.2/', '127.0.0.2 is a loopback address'],
    ['http://0.0.0.0/', '0.0.0.0 is an unspecified address'],
    ['http://0/', '0.0.0.0 is an unspecified address'],
    ['http://[::1]/', '::1 is a loopback address'],
    ['http://[::]/', ':: is an unspecified address'],
    ['http://[::ffff:127.0.0.2]/', '::ffff:7f00:2 (127.0.0.2) is a loopback address'],
    ['https://169.254.169.254/latest/meta-data', '169.254.169.254 is a link-local address'],
  ])('refuses %s', (url, reason) => {
    expect(policy.checkUrl(new URL(url))).toContain(reason);
  });

  it('never names the path or query', () => {
    const reason = policy.checkUrl(new URL('http://10.0.0.1/secret-token?key=s3cr3t'));
    expect(reason).not.toMatch(/secret|s3cr3t/);
  });

  it.each([
    'http://127.0.0.1:9/',
    'http://[::ffff:127.0.0.1]/',
    'http://localhost:1/',
    'https://hooks.example.com/a',
    'http://8.8.8.8/',
  ])('passes %s (names are judged at connect time)', (url) => {
    expect(policy.checkUrl(new URL(url))).toBeNull();
  });
});

describe('guardedLookup', () => {
  const fake =
    (addresses: string[]): LookupFunction =>
    (_host, _options, callback) => {
      callback(
        null,
        addresses.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 })),
      );
    };
  const call = (lookup: LookupFunction, options: LookupOptions) =>
    new Promise<{ err: Error | null; address: unknown; family?: number }>((resolve) => {
      lookup('rebind.example', options, (err, address, family) => resolve({ err, address, family }));
    });

  it('drops forbidden addresses and keeps permitted ones', async () => {
    const lookup = guardedLookup(parseEgressAllow('127.0.0.1'), fake(['127.0.0.2', '127.0.0.1', '10.0.0.1']));
    expect(await call(lookup, { all: true })).toEqual({
      err: null,
      address: [{ address: '127.0.0.1', family: 4 }],
      family: undefined,
    });
    expect(await call(lookup, {})).toEqual({ err: null, address: '127.0.0.1', family: 4 });
  });

  it('refuses with the host and the address when nothing is permitted', async () => {
    const lookup = guardedLookup(parseEgressAllow(undefined), fake(['127.0.0.2', '::1']));
    const { err } = await call(lookup, { all: true });
    expect(err).toBeInstanceOf(EgressRefusedError);
    expect(err?.message).toBe(
      'rebind.example resolved to 127.0.0.2, which is a loopback address; add the host or address to LOADNOTIFY_EGRESS_ALLOW to allow it',
    );
  });

  it('passes resolver errors through', async () => {
    const failing: LookupFunction = (_host, _options, callback) =>
      callback(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }), []);
    const { err } = await call(guardedLookup(parseEgressAllow(undefined), failing), {});
    expect(err).toMatchObject({ code: 'ENOTFOUND' });
  });
});
