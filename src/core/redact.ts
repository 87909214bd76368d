/**
 * Replacing secret values in text that is kept or shown: a channel's secrets in the attempt
 * log (delivery/redact.ts), a token or password in the error lines a runner reports.
 */
export const REDACTED = '****';

/** The text with every occurrence of each secret replaced, as written and as inside a JSON string. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  // Longest first: a secret that contains another is replaced whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length === 0) continue;
    for (const form of new Set([secret, JSON.stringify(secret).slice(1, -1)]))
      out = out.split(form).join(REDACTED);
  }
  return out;
}
