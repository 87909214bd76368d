/**
 * Parses `--timeout` values: plain seconds (`90`, `1.5`) or k6-style durations (`90s`, `5m`,
 * `1h30m`, `500ms`). Returns milliseconds, or null when the text is not a positive duration.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

export function parseDuration(text: string): number | null {
  const trimmed = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return positive(Number(trimmed) * 1000);
  if (trimmed === '') return null;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < trimmed.length) {
    const start = PART.lastIndex;
    const match = PART.exec(trimmed);
    if (!match || match.index !== start) return null;
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  }
  return positive(total);
}

function positive(ms: number): number | null {
  // setTimeout caps at 2^31-1 ms (~24.8 days); beyond that it fires at once.
  return Number.isFinite(ms) && ms > 0 && ms <= 2 ** 31 - 1 ? Math.ceil(ms) : null;
}
