/**
 * User templates (webhook bodies, e-mails), written by channel owners and run inside the
 * service, in Liquid (the default) or Jinja2 (`template_engine`, k6 Cloud's language; see
 * jinja-template.ts, which shares the limits below).
 *
 * Liquid templates:
 * The engine is shut in: no file system (include, render and layout are refused at save time),
 * only the built-in filters (strictFilters), only an object's own properties, and limits on
 * template size, render time, allocations, list sizes and output size.
 *
 * Only the template workers (src/delivery/template-pool.ts) load this module: they check a
 * template when it is saved and render it when it is sent. liquidjs checks its
 * time limit only between nodes, so one filter over a huge list, or a regular expression on
 * a long string, could hold whatever thread runs it for seconds. The bounds below make such
 * templates fail fast inside the engine; the worker's wall clock and heap cap are the backstop.
 * This module imports nothing but liquidjs and the Jinja module, so the workers can load it on
 * their own.
 */
import { Drop, Liquid, type FilterImplOptions, type Template } from 'liquidjs';
import { parseJinja, renderJinja } from './jinja-template.js';
import {
  MAX_LIST_ITEMS,
  MAX_OUTPUT_BYTES,
  MAX_TEMPLATE_CHARS,
  MEMORY_LIMIT,
  RENDER_LIMIT_MS,
  TemplateError,
  type TemplateEngine,
} from './template-limits.js';

export * from './template-limits.js';

/**
 * Filters whose cost grows with the list they get (sort, sample and uniq also copy it): with
 * a list of a million, one call took seconds, and the time limit is only checked after it.
 */
const LIST_FILTERS = (
  'join reverse sort sort_natural map sum compact concat push unshift pop shift where reject ' +
  'where_exp reject_exp group_by group_by_exp find find_exp find_index find_index_exp has ' +
  'has_exp uniq sample'
).split(' ');

function listSize(v: unknown): number {
  if (Array.isArray(v)) return v.length;
  if (typeof v === 'string') return v.length;
  return 0;
}

/**
 * A Liquid engine with the limits above. `html`: for an HTML template, every `{{ }}` output is
 * HTML-escaped (liquidjs's outputEscape; `| raw` opts out, for the author's own markup), and
 * `escape` and `escape_once` do nothing more, so a template written for plain Liquid, which
 * escapes what it shows, does not escape twice.
 */
function makeLiquid(html: boolean): Liquid {
  const engine = new Liquid({
    // An in-memory file system with no files: nothing on disk can be read, even by a bug.
    templates: {},
    strictFilters: true,
    ownPropertyOnly: true,
    parseLimit: MAX_TEMPLATE_CHARS,
    renderLimit: RENDER_LIMIT_MS,
    memoryLimit: MEMORY_LIMIT,
    ...(html ? { outputEscape: 'escape' as const } : {}),
  });
  for (const tag of ['include', 'render', 'layout']) {
    engine.registerTag(tag, {
      parse() {
        throw new Error(`the ${tag} tag is not available: templates cannot read other files`);
      },
      render() {},
    });
  }
  for (const name of LIST_FILTERS) {
    const builtIn: FilterImplOptions | undefined = engine.filters[name];
    if (!builtIn) throw new Error(`liquidjs has no ${name} filter`);
    const handler = typeof builtIn === 'function' ? builtIn : builtIn.handler;
    engine.registerFilter(name, function (this: unknown, value: unknown, ...args: unknown[]) {
      // Strings count for sample, which shuffles their characters; elsewhere a string is one item.
      const size = Math.max(
        ...[value, ...args].map((v) => (typeof v === 'string' && name !== 'sample' ? 0 : listSize(v))),
      );
      if (size > MAX_LIST_ITEMS)
        throw new Error(
          `list limit exceeded: ${name} takes at most ${MAX_LIST_ITEMS} items, and was given ${size}`,
        );
      const self = this as ThisParameterType<typeof handler>;
      const result: unknown = handler.call(self, value, ...args);
      return isSteps(result) ? timed(result, self.context.renderLimit) : result;
    });
  }
  if (html) for (const name of ['escape', 'escape_once']) engine.registerFilter(name, (v: unknown) => v);
  return engine;
}

const engine = makeLiquid(false);
/** Made when an HTML template first renders. */
let htmlEngine: Liquid | null = null;

function isSteps(v: unknown): v is Generator<unknown, unknown, unknown> {
  const g = v as Partial<Generator> | null;
  return typeof g?.next === 'function' && typeof g.throw === 'function';
}

/**
 * A built-in list filter's steps (most yield once per item they evaluate), with the time limit
 * checked at each: liquidjs checks it only between nodes, and `has_exp` over 10,000 items with
 * a condition of 1,500 terms ran for 51 s inside one.
 */
function* timed(
  steps: Generator<unknown, unknown, unknown>,
  limit: { check(now: number): void },
): Generator<unknown, unknown, unknown> {
  let step = steps.next();
  while (!step.done) {
    limit.check(performance.now());
    let input: unknown;
    try {
      input = yield step.value;
    } catch (err) {
      step = steps.throw(err);
      continue;
    }
    step = steps.next(input);
  }
  return step.value;
}

/** liquidjs's own words for its limits, and what they mean here. */
const LIMITS: [RegExp, string][] = [
  [/^template render limit exceeded/, `time limit exceeded: a render may take ${RENDER_LIMIT_MS} ms`],
  [
    /^memory alloc limit exceeded/,
    `memory limit exceeded: one render may make ${MEMORY_LIMIT} items and characters in all, ranges, lists and text together`,
  ],
];

/** "line 3: undefined filter: nope", from liquidjs's "undefined filter: nope, line:3, col:1". */
export function describe(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  const at = /, line:(\d+), col:\d+$/.exec(message);
  if (at) message = message.slice(0, at.index);
  for (const [pattern, words] of LIMITS) if (pattern.test(message)) message = words;
  return at ? `line ${at[1]}: ${message}` : message;
}

type Parsed =
  | { engine: 'liquid'; templates: Template[]; liquid: Liquid }
  | { engine: 'jinja2'; program: ReturnType<typeof parseJinja> };
const parsed = new Map<string, Parsed>();
const MAX_CACHED = 200;

function parse(source: string, engineName: TemplateEngine, html = false): Parsed {
  const key = `${engineName}${html ? '/html' : ''}\0${source}`;
  let found = parsed.get(key);
  if (!found) {
    try {
      if (engineName === 'jinja2' && source.length > MAX_TEMPLATE_CHARS)
        throw new Error(`a template may have ${MAX_TEMPLATE_CHARS} characters, not ${source.length}`);
      found =
        engineName === 'jinja2'
          ? { engine: 'jinja2', program: parseJinja(source) }
          : liquidParse(source, html ? (htmlEngine ??= makeLiquid(true)) : engine);
    } catch (err) {
      throw new TemplateError(engineName === 'jinja2' ? (err as Error).message : describe(err));
    }
    // A small bounded cache: the same few templates render for every event.
    if (parsed.size >= MAX_CACHED) parsed.delete(parsed.keys().next().value!);
    parsed.set(key, found);
  }
  return found;
}

function liquidParse(source: string, liquid: Liquid): Parsed {
  return { engine: 'liquid', templates: liquid.parse(source), liquid };
}

/** Null when the template parses, else what is wrong and on which line. */
export function checkTemplate(source: string, engineName: TemplateEngine = 'liquid'): string | null {
  try {
    parse(source, engineName);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * k6 Cloud's `event` object ({id, type, text, name}) as Liquid sees it: its fields read as
 * usual, and the object itself renders and compares as the event's name, as `event` did in
 * Liquid templates before the k6 Cloud context came (`{% if event == "test.started" %}`).
 * `constructor` and `__proto__` are shadowed: a Drop's properties are read without the
 * own-property rule.
 */
class EventDrop extends Drop {
  constructor(fields: Record<string, unknown>) {
    super();
    Object.assign(this, fields);
    for (const key of ['constructor', '__proto__'])
      Object.defineProperty(this, key, { value: undefined, enumerable: false });
  }
  override valueOf(): unknown {
    return (this as unknown as { name?: unknown }).name;
  }
}

function liquidScope(scope: Record<string, unknown>): Record<string, unknown> {
  const { event } = scope;
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return scope;
  return { ...scope, event: new EventDrop(event as Record<string, unknown>) };
}

/**
 * Renders with `scope` as the variables; throws TemplateError saying what failed. Synchronous
 * and bounded only by the limits above: the service calls it in a template worker, never on
 * its own thread (see src/delivery/template-pool.ts).
 *
 * `html`: the output is HTML (an e-mail's body), so what the template puts out with `{{ }}` is
 * HTML-escaped, as Jinja2's autoescape does: a load test's name, which any member may choose,
 * cannot put markup into a mail that goes to others. The template's own text is markup as
 * written, and comparisons see the values as they are (`event.type == "<any>"`).
 */
export function renderTemplate(
  source: string,
  scope: Record<string, unknown>,
  engineName: TemplateEngine = 'liquid',
  html = false,
): string {
  const found = parse(source, engineName, html);
  let output: string;
  try {
    output =
      found.engine === 'jinja2'
        ? renderJinja(found.program, scope, { renderMs: RENDER_LIMIT_MS, memory: MEMORY_LIMIT, html })
        : String(found.liquid.renderSync(found.templates, liquidScope(scope)));
  } catch (err) {
    throw new TemplateError(
      `the template failed: ${found.engine === 'jinja2' ? (err as Error).message : describe(err)}`,
    );
  }
  const bytes = Buffer.byteLength(output);
  if (bytes > MAX_OUTPUT_BYTES)
    throw new TemplateError(
      `the template made ${bytes} bytes, over the ${MAX_OUTPUT_BYTES / 1024} KiB limit`,
    );
  return output;
}
