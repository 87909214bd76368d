/**
 * Liquid templates for webhook bodies, written by channel owners and run inside the service.
 * The engine is shut in: no file system (include, render and layout are refused at save time),
 * only the built-in filters (strictFilters), only an object's own properties, and limits on
 * template size, render time, allocations and output size.
 */
import { Liquid, type Template } from 'liquidjs';

export const MAX_TEMPLATE_CHARS = 16 * 1024;
export const MAX_OUTPUT_BYTES = 64 * 1024;
/** Per render; a webhook body that takes longer is a loop, not a message. */
export const RENDER_LIMIT_MS = 500;

const engine = new Liquid({
  // An in-memory file system with no files: nothing on disk can be read, even by a bug.
  templates: {},
  strictFilters: true,
  ownPropertyOnly: true,
  parseLimit: MAX_TEMPLATE_CHARS,
  renderLimit: RENDER_LIMIT_MS,
  memoryLimit: 10_000_000,
});
for (const tag of ['include', 'render', 'layout']) {
  engine.registerTag(tag, {
    parse() {
      throw new Error(`the ${tag} tag is not available: templates cannot read other files`);
    },
    render() {},
  });
}

/** "line 3: undefined filter: nope", from liquidjs's "undefined filter: nope, line:3, col:1". */
function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const at = /, line:(\d+), col:\d+$/.exec(message);
  return at ? `line ${at[1]}: ${message.slice(0, at.index)}` : message;
}

export class TemplateError extends Error {
  override name = 'TemplateError';
}

const parsed = new Map<string, Template[]>();
const MAX_CACHED = 200;

function parse(source: string): Template[] {
  let templates = parsed.get(source);
  if (!templates) {
    try {
      templates = engine.parse(source);
    } catch (err) {
      throw new TemplateError(describe(err));
    }
    // A small bounded cache: the same few templates render for every event.
    if (parsed.size >= MAX_CACHED) parsed.delete(parsed.keys().next().value!);
    parsed.set(source, templates);
  }
  return templates;
}

/** Null when the template parses, else what is wrong and on which line. */
export function checkTemplate(source: string): string | null {
  try {
    parse(source);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Renders with `scope` as the variables; throws TemplateError saying what failed. */
export function renderTemplate(source: string, scope: Record<string, unknown>): string {
  const templates = parse(source);
  let output: string;
  try {
    output = String(engine.renderSync(templates, scope));
  } catch (err) {
    throw new TemplateError(`the template failed: ${describe(err)}`);
  }
  const bytes = Buffer.byteLength(output);
  if (bytes > MAX_OUTPUT_BYTES)
    throw new TemplateError(
      `the template made ${bytes} bytes, over the ${MAX_OUTPUT_BYTES / 1024} KiB limit`,
    );
  return output;
}
