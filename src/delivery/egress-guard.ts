import dns from 'node:dns';
import net from 'node:net';
import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';

/** The environment variable named in refusal messages, so an operator knows what to change. */
export const EGRESS_ALLOW_ENV = 'LOADNOTIFY_EGRESS_ALLOW';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

export interface AddressVerdict {
  /** The address as judged: IPv4-mapped IPv6 is reduced to its IPv4 address. */
  judged: string;
  /** True only for global unicast addresses. */
  global: boolean;
  /** "a loopback address", "a private address", ... ("a global unicast address" when global). */
  description: string;
}

const DESCRIPTIONS: Record<string, string> = {
  unspecified: 'an unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT (shared) address',
  private: 'a private address',
  reserved: 'a reserved address',
  uniqueLocal: 'a unique-local address',
  deprecatedSiteLocal: 'a site-local address',
  rfc6145: 'an IPv4-translated address',
  rfc6052: 'a NAT64 address',
  '6to4': 'a 6to4 address',
  teredo: 'a Teredo address',
  benchmarking: 'a benchmarking address',
  discard: 'a discard-only address',
};

// Only 2000::/3 is allocated as IPv6 global unicast; ipaddr.js calls everything it has no
// name for "unicast", which would let e.g. IPv4-compatible ::7f00:1 through.
const IPV6_GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');

/** Classifies an IP literal (no brackets). Throws when it is not an IP address. */
export function classifyAddress(address: string): AddressVerdict {
  return verdictOf(ipaddr.process(address));
}

function verdictOf(ip: Address): AddressVerdict {
  const range = ip.range();
  let global = range === 'unicast';
  if (global && ip.kind() === 'ipv6') global = ip.match(IPV6_GLOBAL_UNICAST);
  const description = global
    ? 'a global unicast address'
    : range === 'unicast'
      ? 'not a global unicast address'
      : (DESCRIPTIONS[range] ?? `a special-purpose (${range}) address`);
  return { judged: ip.toString(), global, description };
}

/** The connect-time refusal; undici hands it back unchanged as the request's error. */
export class EgressRefusedError extends Error {
  readonly code = 'ERR_LOADNOTIFY_EGRESS_REFUSED';
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'EgressRefusedError';
  }
}

export interface EgressPolicy {
  /** The entries as the operator wrote them (for start-up logs). */
  readonly entries: readonly string[];
  /** True when the host name itself is allowed (it may then resolve to any address). */
  allowsHost(hostname: string): boolean;
  /** Why `address` may not be dialled (naming `viaHost` when it was resolved), or null. */
  checkAddress(address: string, viaHost?: string): string | null;
  /** Save-time pre-check: judges literal-IP hosts only; names resolve at connect time. */
  checkUrl(url: URL): string | null;
}

// Labels as DNS allows them (plus "_", which real hosts use); WHATWG URL turns a last label
// that is a number into an IPv4 address, so such names could never match a URL host.
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const NUMERIC_LABEL = /^(?:0x[0-9a-f]*|[0-9]+)$/;

function normalizeHostname(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Parses LOADNOTIFY_EGRESS_ALLOW. Throws naming the first bad entry, so start-up fails with
 * a message the operator can act on instead of silently allowing less (or more).
 */
export function parseEgressAllow(value: string | undefined): EgressPolicy {
  const entries: string[] = [];
  const hosts = new Set<string>();
  const cidrs: [Address, number][] = [];
  if (value !== undefined && value.trim() !== '') {
    value.split(',').forEach((raw, index) => {
      const entry = raw.trim();
      const bad = (why: string): Error =>
        new Error(`${EGRESS_ALLOW_ENV}: entry ${index + 1} ${JSON.stringify(entry)} ${why}`);
      if (entry === '') throw bad('is empty');
      entries.push(entry);
      const literal = stripBrackets(entry);
      if (entry.includes('/')) cidrs.push(parseCidrEntry(entry, bad));
      else if (net.isIP(literal) !== 0) {
        const ip = ipaddr.process(literal);
        cidrs.push([ip, ip.kind() === 'ipv4' ? 32 : 128]);
      } else hosts.add(parseHostEntry(entry, bad));
    });
  }
  return makePolicy(entries, hosts, cidrs);
}

function parseCidrEntry(entry: string, bad: (why: string) => Error): [Address, number] {
  const parts = entry.split('/');
  const [addr = '', bits = ''] = parts;
  const literal = stripBrackets(addr);
  const cidr = `${literal}/${bits}`;
  const valid = net.isIPv4(literal)
    ? ipaddr.IPv4.isValidCIDRFourPartDecimal(cidr)
    : net.isIPv6(literal) && ipaddr.IPv6.isValidCIDR(cidr);
  if (!valid || parts.length !== 2 || !/^\d+$/.test(bits))
    throw bad('is not a valid CIDR (address/prefix length)');
  const [ip, prefix] = ipaddr.parseCIDR(cidr);
  // Judge mapped ranges as IPv4, as addresses are, so ::ffff:10.0.0.0/104 means 10.0.0.0/8.
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
    return [(ip as ipaddr.IPv6).toIPv4Address(), prefix - 96];
  }
  return [ip, prefix];
}

function parseHostEntry(entry: string, bad: (why: string) => Error): string {
  const ascii = /^[\x20-\x7e]*$/.test(entry) ? entry : domainToASCII(entry);
  const host = normalizeHostname(ascii);
  const labels = host.split('.');
  const valid =
    host.length > 0 &&
    host.length <= 253 &&
    labels.every((label) => LABEL.test(label)) &&
    !NUMERIC_LABEL.test(labels[labels.length - 1] ?? '');
  if (!valid) throw bad('is not a host name, an IP address or a CIDR');
  return host;
}

function makePolicy(entries: string[], hosts: Set<string>, cidrs: [Address, number][]): EgressPolicy {
  const allowsAddress = (ip: Address): boolean =>
    cidrs.some(([net, prefix]) => {
      if (net.kind() === ip.kind()) return ip.match(net, prefix);
      // An IPv6 range written by the operator may still cover the IPv4 address mapped into it.
      return ip.kind() === 'ipv4' && (ip as ipaddr.IPv4).toIPv4MappedAddress().match(net, prefix);
    });

  const policy: EgressPolicy = {
    entries,
    allowsHost: (hostname) => hosts.has(normalizeHostname(stripBrackets(hostname))),
    checkAddress(address, viaHost) {
      const literal = stripBrackets(address);
      if (net.isIP(literal) === 0) return `${address} is not an IP address`;
      const ip = ipaddr.process(literal);
      const verdict = verdictOf(ip);
      if (verdict.global || allowsAddress(ip)) return null;
      const shown = verdict.judged === literal ? literal : `${literal} (${verdict.judged})`;
      const subject = viaHost ? `${viaHost} resolved to ${shown}, which is` : `${shown} is`;
      const what = viaHost ? 'the host or address' : 'it';
      return `${subject} ${verdict.description}; add ${what} to ${EGRESS_ALLOW_ENV} to allow it`;
    },
    checkUrl(url) {
      const host = stripBrackets(url.hostname);
      if (policy.allowsHost(host) || net.isIP(host) === 0) return null;
      return policy.checkAddress(host);
    },
  };
  return policy;
}

/** Same shape as dns.lookup as net.connect calls it (with or without `all`). */
export type LookupFunction = net.LookupFunction;

/**
 * Wraps a lookup so only permitted addresses reach net.connect: this judges the address that
 * is actually dialled, so a name that re-resolves to a private address (DNS rebinding) fails.
 */
export function guardedLookup(policy: EgressPolicy, lookup: LookupFunction = dns.lookup): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, result) => {
      if (err) return callback(err, options.all ? [] : '');
      const found = typeof result === 'string' ? [{ address: result, family: net.isIP(result) }] : result;
      const permitted = found.filter((a) => policy.checkAddress(a.address, hostname) === null);
      const first = permitted[0];
      if (!first) {
        const reason = found[0]
          ? (policy.checkAddress(found[0].address, hostname) ?? '')
          : `${hostname} resolved to no address`;
        return callback(new EgressRefusedError(reason), options.all ? [] : '');
      }
      if (options.all) callback(null, permitted);
      else callback(null, first.address, first.family);
    });
  };
}
