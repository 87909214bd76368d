/**
 * The egress guard's undici connector, in a module of its own: it loads undici, which the
 * service's main thread has no other use for (HTTP sends run on the send thread; SMTP loads
 * this when it first sends), and an idle service should not carry it.
 */
import net from 'node:net';
import { buildConnector } from 'undici';
import {
  EgressRefusedError,
  guardedLookup,
  stripBrackets,
  type EgressPolicy,
  type LookupFunction,
} from './egress-guard.js';

export interface GuardedConnectorOptions {
  /** Connect timeout in milliseconds. */
  timeout: number;
  lookup?: LookupFunction;
}

/**
 * An undici `connect` function that refuses forbidden addresses before any packet leaves:
 * net.connect skips lookup for IP literals, so those are judged here; names go through
 * guardedLookup unless the operator allowed the name itself.
 */
export type Connector = buildConnector.connector;

export function guardedConnector(policy: EgressPolicy, opts: GuardedConnectorOptions): Connector {
  const plain = buildConnector({ timeout: opts.timeout, ...(opts.lookup ? { lookup: opts.lookup } : {}) });
  const guarded = buildConnector({ timeout: opts.timeout, lookup: guardedLookup(policy, opts.lookup) });
  return (options, callback) => {
    const host = stripBrackets(options.hostname);
    if (net.isIP(host) !== 0) {
      const reason = policy.checkAddress(host);
      if (reason !== null) {
        // Asynchronously, as a real connect failure would be reported.
        queueMicrotask(() => callback(new EgressRefusedError(reason), null));
        return;
      }
      return plain(options, callback);
    }
    return (policy.allowsHost(host) ? plain : guarded)(options, callback);
  };
}
