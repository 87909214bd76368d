/**
 * What every tool's end-of-test JSON reader shares: the error a reader throws when the output
 * is not what the tool writes, and reading a JSON file into the reader.
 */
import { readFile } from 'node:fs/promises';
import type { RunSummary } from '../core/events.js';

export class SummaryError extends Error {}

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function finiteOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** A ratio of two counts, kept within 0..1; null when nothing was counted. */
export function ratio(part: number, whole: number): number | null {
  if (!(whole > 0)) return null;
  return Math.min(1, Math.max(0, part / whole));
}

/** Reads a JSON file into `parse`; every failure (missing, unreadable, malformed) is a SummaryError. */
export async function readJsonSummary(
  file: string,
  parse: (data: unknown) => RunSummary,
): Promise<RunSummary> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SummaryError(code === 'ENOENT' ? 'the file does not exist' : `cannot read it (${code ?? err})`);
  }
  return parse(parseJson(text));
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SummaryError(`malformed JSON (${(err as Error).message})`);
  }
}
