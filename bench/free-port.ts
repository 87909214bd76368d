/** A port for a child process to listen on, shared by the bench and the tests that spawn servers. */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * The lowest port the kernel hands out to listeners on port 0 and to outgoing connections
 * (Linux's ip_local_port_range; 32768 is its default and the usual bound elsewhere).
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 11_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function canListen(port: number): Promise<boolean> {
  const s = createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A free loopback port below the ephemeral range. The child binds it some time after this
 * check; a port the kernel handed out for port 0 could meanwhile be handed to any other
 * listener on the machine (a test's receiver, the bench's floor), whose requests then went to
 * the wrong process. No listener on port 0 and no outgoing connection is ever given a port
 * below the range, so only another caller of this function could take it, at random.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let tries = 0; tries < 100; tries++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found from 10000 to ${low - 1}`);
}
