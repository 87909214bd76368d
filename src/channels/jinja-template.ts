/**
 * Jinja2 templates (k6 Cloud's template language), by @huggingface/jinja: an interpreter
 * written in TypeScript that walks the template's syntax tree. It never compiles a template to
 * JavaScript (as nunjucks does), and a template reaches only what the context holds: values
 * live in Maps, so `__proto__`, `constructor` and the like are not there to read, and the
 * context is JSON data (no functions). The globals a template sees are Jinja's literals,
 * `range` (bounded here), `namespace` and `raise_exception`.
 *
 * Bounded like the Liquid engine (webhook-template.ts), whose limits it shares: the time limit
 * is checked at every node the interpreter evaluates, and no value one node makes (a list, a
 * string) may exceed the memory limit. The worker's wall clock and heap cap stay the backstop.
 * This module imports nothing but @huggingface/jinja (and an HTML escape), so the template
 * workers load it alone.
 */
import { Environment, Interpreter, parse, tokenize } from '@huggingface/jinja';
import { escapeHtml } from '../core/html.js';

// The package's declarations import their own files without extensions, which NodeNext
// resolution does not follow: its classes reach TypeScript untyped. What is used is typed here.
/** A parsed template (the library's syntax tree). */
type Program = { type: 'Program'; body: unknown[] };
/** A value the interpreter made. */
type Value = { type: string; value: unknown };
type Env = { set(name: string, value: unknown): unknown };

export interface JinjaLimits {
  renderMs: number;
  /** Items in one list, or characters in one string, that one value may have. */
  memory: number;
  /** The output is HTML: what `{{ }}` puts out is escaped (see BoundedInterpreter). */
  html?: boolean;
}

/** Nodes whose output is markup as the template wrote it, never a value to escape. */
const STATEMENTS = new Set([
  'If',
  'For',
  'Break',
  'Continue',
  'Set',
  'Macro',
  'Comment',
  'CallStatement',
  'FilterStatement',
]);

/** The filters @huggingface/jinja knows; any other is refused when the template is saved. */
const FILTERS = new Set(
  (
    'safe tojson list first last length reverse sort join string unique upper lower title capitalize trim ' +
    'indent int float abs items keys values get dictsort bool default selectattr rejectattr map replace'
  ).split(' '),
);

/** Jinja2's own defaults: blocks keep their whitespace unless `-` trims it. */
const LEXER_OPTIONS = { lstrip_blocks: false, trim_blocks: false };

function lineAt(source: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < source.length; i++) if (source[i] === '\n') line++;
  return line;
}

/**
 * Where each token starts in `source`: the lexer keeps no positions, so they are found again
 * by walking the source beside the tokens (enough to name a line).
 */
function tokenOffsets(source: string, tokens: readonly { value: string; type: string }[]): number[] {
  const offsets: number[] = [];
  let at = 0;
  for (const token of tokens) {
    if (token.type !== 'Text') while (at < source.length && /[\s-]/.test(source[at]!)) at++;
    if (token.type === 'StringLiteral') {
      const quote = source[at] === "'" || source[at] === '"' ? source[at]! : null;
      offsets.push(at);
      if (quote === null) continue;
      let i = at + 1;
      while (i < source.length && source[i] !== quote) i += source[i] === '\\' ? 2 : 1;
      at = i + 1;
      continue;
    }
    const found = token.type === 'Comment' ? source.indexOf('{#', at) : source.indexOf(token.value, at);
    const start = found === -1 ? at : found;
    offsets.push(start);
    at = token.type === 'Comment' ? source.indexOf('#}', start) + 2 : start + token.value.length;
    if (at < start) at = source.length;
  }
  return offsets;
}

function message(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  // The library's internal failures ("Cannot read properties of undefined") mean the template
  // ended where more was expected.
  if (err instanceof TypeError && /undefined/.test(text)) return 'unexpected end of template';
  return text.replace(/^Parser Error: /, '');
}

/** The line of a lexer error: the first prefix of whole lines that fails to tokenize. */
function lexerErrorLine(source: string): number {
  const lines = source.split('\n');
  let lo = 1;
  let hi = lines.length;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    let failed = false;
    try {
      tokenize(lines.slice(0, mid).join('\n'), LEXER_OPTIONS);
    } catch {
      failed = true;
    }
    if (failed) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Every filter name the template uses, with where to look for it. */
function* filterNames(node: unknown): Generator<string> {
  if (node === null || typeof node !== 'object') return;
  const n = node as {
    type?: string;
    filter?: { type?: string; value?: string; callee?: { value?: string } };
  };
  if ((n.type === 'FilterExpression' || n.type === 'FilterStatement') && n.filter) {
    const name = n.filter.type === 'Identifier' ? n.filter.value : n.filter.callee?.value;
    if (typeof name === 'string') yield name;
  }
  for (const child of Object.values(node)) {
    if (Array.isArray(child)) for (const c of child) yield* filterNames(c);
    else if (child !== null && typeof child === 'object') yield* filterNames(child);
  }
}

/**
 * Parses a template; throws an Error whose message is "line N: what is wrong" (the same form
 * as the Liquid engine's).
 */
export function parseJinja(source: string): Program {
  let tokens: { value: string; type: string }[];
  try {
    tokens = tokenize(source, LEXER_OPTIONS);
  } catch (err) {
    throw new Error(`line ${lexerErrorLine(source)}: ${message(err)}`, { cause: err });
  }
  // The parser reads tokens by index and keeps no positions: the furthest it read is where it
  // stopped.
  let furthest = 0;
  const watched = new Proxy(tokens, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) furthest = Math.max(furthest, Number(key));
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  let program: Program;
  try {
    program = parse(watched) as Program;
  } catch (err) {
    const offsets = tokenOffsets(source, tokens);
    const offset = furthest < offsets.length ? offsets[furthest]! : source.length;
    throw new Error(`line ${lineAt(source, offset)}: ${message(err)}`, { cause: err });
  }
  for (const name of filterNames(program)) {
    if (FILTERS.has(name)) continue;
    const at = new RegExp(`\\|\\s*${name}\\b`).exec(source);
    throw new Error(`line ${at ? lineAt(source, at.index) : 1}: undefined filter: ${name}`);
  }
  return program;
}

class LimitError extends Error {}

/**
 * The interpreter with the limits: each node it evaluates checks the clock, and each value it
 * makes is measured.
 */
class BoundedInterpreter extends Interpreter {
  constructor(
    env: Env,
    private readonly deadline: number,
    private readonly limits: JinjaLimits,
  ) {
    super(env);
  }

  evaluate(statement: unknown, environment: Env): Value {
    if (performance.now() > this.deadline)
      throw new LimitError(`time limit exceeded: a render may take ${this.limits.renderMs} ms`);
    const value = super.evaluate(statement, environment) as Value;
    const size =
      typeof value.value === 'string' || Array.isArray(value.value)
        ? (value.value as { length: number }).length
        : 0;
    if (size > this.limits.memory)
      throw new LimitError(
        `memory limit exceeded: one value may hold ${this.limits.memory} items or characters`,
      );
    return value;
  }

  /**
   * With `html`, Jinja2's autoescape: a block's text (the lexer's text, which the library makes
   * a string literal) and its statements' output stay as they are; what an expression puts out
   * is escaped, unless it is itself such a block's output (a macro's or a `set` block's), which
   * was escaped inside. The library has no Markup type: the blocks made here are remembered.
   */
  evaluateBlock(statements: { type: string }[], environment: Env): Value {
    if (!this.limits.html) return super.evaluateBlock(statements, environment) as Value;
    let result = '';
    for (const statement of statements) {
      const value = this.evaluate(statement, environment);
      if (value.type === 'NullValue' || value.type === 'UndefinedValue') continue;
      const text = String(value.toString());
      const asWritten =
        statement.type === 'StringLiteral' || STATEMENTS.has(statement.type) || this.markup.has(value);
      result += asWritten ? text : escapeHtml(text);
    }
    const block = super.evaluateBlock([], environment) as Value;
    block.value = result;
    this.markup.add(block);
    return block;
  }

  private readonly markup = new WeakSet<object>();
}

/** Jinja's range(), refusing to make more items than the memory limit allows. */
function boundedRange(memory: number) {
  return (...args: number[]): number[] => {
    const [start, stop, step = 1] = args.length === 1 ? [0, args[0]!] : args;
    if (![start, stop, step].every((n) => typeof n === 'number' && Number.isFinite(n)))
      throw new Error('range() takes numbers');
    if (step === 0) throw new Error('range() step must not be zero');
    const count = Math.max(0, Math.ceil((stop! - start!) / step));
    if (count > memory)
      throw new LimitError(`memory limit exceeded: range() may make ${memory} items, not ${count}`);
    return Array.from({ length: count }, (_, i) => start! + i * step);
  };
}

/**
 * Renders a parsed template with `scope` as its variables. The scope is made plain JSON first
 * (JSON.parse of JSON.stringify), so a template sees data only: no functions, no prototypes,
 * no class instances, whatever a caller passes.
 */
export function renderJinja(program: Program, scope: Record<string, unknown>, limits: JinjaLimits): string {
  const data = JSON.parse(JSON.stringify(scope)) as Record<string, unknown>;
  const env = new Environment() as Env;
  for (const [name, value] of Object.entries({
    true: true,
    false: false,
    none: null,
    True: true,
    False: false,
    None: null,
  }))
    env.set(name, value);
  env.set('range', boundedRange(limits.memory));
  env.set('raise_exception', (text: unknown) => {
    throw new Error(String(text));
  });
  for (const [key, value] of Object.entries(data)) env.set(key, value);
  const interpreter = new BoundedInterpreter(env, performance.now() + limits.renderMs, limits);
  const run = (interpreter as unknown as { run(p: Program): Value }).run.bind(interpreter);
  return String(run(program).value);
}
