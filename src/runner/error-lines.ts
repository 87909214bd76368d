/**
 * The last lines a failed or stopped command wrote on stderr, for the run's `errors`: where a
 * stack trace, a refused connection or a bad option says what went wrong. Bounded (the last
 * 20 non-empty lines, each at most 300 characters, 4000 in all, read from the last 64 KiB of
 * stderr) and with secrets masked: the API token, the values of environment variables whose
 * names say they are secret, loadnotify tokens, URL passwords and Authorization credentials.
 */
import { REDACTED, redactSecrets } from '../core/redact.js';

export const ERROR_LINES = { lines: 20, lineChars: 300, totalChars: 4000, tailBytes: 64 * 1024 };

/** Names that always mean a secret, wherever they appear in a variable's name. */
const SECRET_WORDS = /TOKEN|SECRET|PASSWORD|PASSWD|APIKEY|API_KEY|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY/i;
/** Words that mean a secret when they are a whole part of the name (`DB_PASS`, `SENTRY_DSN`). */
const SECRET_PARTS = new Set(['KEY', 'PASS', 'PWD', 'AUTH', 'COOKIE', 'SESSION', 'DSN', 'PAT', 'SIGNATURE']);
/** Shorter values would mask ordinary words (`true`, a port) all over the lines. */
const MIN_SECRET_LENGTH = 6;

function secretName(name: string): boolean {
  if (name === 'PWD' || name === 'OLDPWD') return false; // the working directory
  return (
    SECRET_WORDS.test(name) ||
    name
      .toUpperCase()
      .split(/[_\-.]/)
      .some((part) => SECRET_PARTS.has(part))
  );
}

/** The values to mask: `known` (the API token) and those of secret-looking variables of `env`. */
export function secretValues(env: NodeJS.ProcessEnv, known: readonly (string | undefined)[] = []): string[] {
  const fromEnv = Object.entries(env)
    .filter(([name, value]) => value !== undefined && secretName(name))
    .map(([, value]) => value as string);
  return [...new Set([...known, ...fromEnv])].filter(
    (value): value is string => typeof value === 'string' && value.length >= MIN_SECRET_LENGTH,
  );
}

const PATTERNS: [RegExp, string][] = [
  // loadnotify's own tokens (lnt_, lns_, lni_), whoever's they are.
  [/\bln[tsi]_[A-Za-z0-9_-]{16,}/g, REDACTED],
  // user:password@ in a URL.
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s/@]+@/gi, `$1:${REDACTED}@`],
  // Authorization: Bearer <token> / Basic <credentials>.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
];

export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = redactSecrets(text, secrets);
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007]*\u0007/g;

/** The last non-empty lines of `stderr`, masked and bounded (see ERROR_LINES). */
export function lastErrorLines(stderr: string, secrets: readonly string[]): string[] {
  const lines = stderr
    .replace(ANSI, '')
    .split('\n')
    // A progress bar redraws its line with \r: what is left is its last state.
    .map((line) =>
      (
        line
          .split('\r')
          .filter((part) => part.trim() !== '')
          .at(-1) ?? ''
      ).trimEnd(),
    )
    .filter((line) => line.trim() !== '')
    .slice(-ERROR_LINES.lines)
    .map((line) => {
      const masked = maskSecrets(line, secrets);
      return masked.length > ERROR_LINES.lineChars
        ? `${masked.slice(0, ERROR_LINES.lineChars - 1)}…`
        : masked;
    });
  // Newest lines kept when the whole is too long.
  let total = lines.reduce((sum, line) => sum + line.length, 0);
  while (total > ERROR_LINES.totalChars && lines.length > 0) total -= (lines.shift() as string).length;
  return lines;
}
