import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Bodies are checked strictly: a wrong type is an error, never coerced, and unknown fields
 * are refused (schemas set additionalProperties: false). Path and query values arrive as
 * strings, so only they are coerced to the declared integer types.
 */
const strict = new Ajv({
  allErrors: false,
  // Errors carry the value, so a too-long name can say how long it is.
  verbose: true,
  coerceTypes: false,
  removeAdditional: false,
  useDefaults: true,
  strict: false,
});
const coercing = new Ajv({
  allErrors: false,
  verbose: true,
  coerceTypes: true,
  removeAdditional: false,
  useDefaults: true,
  strict: false,
});
// `format: 'date-time'` (a token's expiry) is checked, not ignored with a warning at start.
const addFormats = ajvFormats as unknown as typeof ajvFormats.default;
for (const ajv of [strict, coercing]) addFormats(ajv, ['date-time']);

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? strict : coercing;
  return ajv.compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
};

const compiled = new WeakMap<object, ValidateFunction>();

/**
 * Checks a value that arrives inside a body but whose schema depends on another field (a
 * channel's `config`, by its type): the same strict rules as bodies, errors named under
 * `prefix`. Returns the value with defaults filled, or the first problem.
 */
export function checkNested(
  schema: object,
  value: unknown,
  prefix: string,
): { ok: true; value: unknown } | { ok: false; error: FieldError } {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = strict.compile(schema);
    compiled.set(schema, validate);
  }
  const copy = structuredClone(value);
  if (validate(copy)) return { ok: true, value: copy };
  const [first] = describeValidationError(
    (validate.errors ?? []).map((e) => ({ ...e, instancePath: `/${prefix}${e.instancePath}` })),
    prefix,
  );
  return { ok: false, error: first ?? { field: prefix, message: `${prefix} is invalid` } };
}

export interface FieldError {
  field: string;
  message: string;
}

/**
 * A union of literals (TypeBox's enums) fails as one error per branch plus an anyOf summary,
 * the first of which reads "must be equal to constant". Folds them into a single error that
 * lists the allowed values.
 */
function foldUnions(errors: ErrorObject[]): ErrorObject[] {
  const unions = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const out: ErrorObject[] = [];
  const folded = new Set<string>();
  for (const e of errors) {
    if (!unions.has(e.instancePath)) {
      out.push(e);
      continue;
    }
    if (folded.has(e.instancePath)) continue;
    folded.add(e.instancePath);
    const branches = errors.filter((x) => x.instancePath === e.instancePath);
    const allowed = branches.flatMap((x) =>
      x.keyword === 'const'
        ? [x.params.allowedValue]
        : x.keyword === 'type' && x.params.type === 'null'
          ? [null]
          : [],
    );
    // A union of other types (number or null) keeps its first, plainer error.
    const literal = branches.some((x) => x.keyword === 'const');
    out.push(literal ? { ...e, keyword: 'enum', params: { allowedValues: allowed } } : e);
  }
  return out;
}

/**
 * What people call the fields the web app's forms show, by the API's name. A message starts
 * with these words and keeps the API's name beside them, so a person reading the form and a
 * script reading `message` both find the field.
 */
const LABELS: Record<string, string> = {
  name: 'name',
  email: 'email',
  password: 'password',
  organization_name: 'organization name',
  role: 'role',
  scope: 'scope',
  organization_id: 'organization',
  expires_at: 'expiry date',
  status: 'status',
  result: 'result',
  trigger: 'trigger',
  url: 'URL',
  schedule: 'schedule',
  'schedule.command': 'command',
  'schedule.cron': 'cron expression',
  'schedule.timezone': 'time zone',
  'schedule.timeout_seconds': 'timeout in seconds',
  'schedule.enabled': 'enabled switch',
};

/**
 * "The organization name (organization_name)", "The name", or the bare path when unnamed;
 * with a value, it is quoted after the words: `The time zone "Mars/Base" (schedule.timezone)`.
 */
export function fieldSubject(field: string, value?: string): string {
  const quoted = value === undefined ? '' : ` ${JSON.stringify(value)}`;
  const argument = /^schedule\.command\.(\d+)$/.exec(field);
  if (argument) {
    const n = Number(argument[1]);
    const words = n === 0 ? "The command's program" : `Argument ${n + 1} of the command`;
    return `${words}${quoted} (${field})`;
  }
  const label = LABELS[field];
  if (label === undefined) return `${field}${quoted}`;
  return label === field ? `The ${label}${quoted}` : `The ${label}${quoted} (${field})`;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'text',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null',
};

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
/** ajv counts a string's length in code points, as people do. */
const codePoints = (value: unknown) => (typeof value === 'string' ? [...value].length : null);

const ADDRESS = 'must be an e-mail address such as name@example.com';
const isEmail = (field: string) => field === 'email' || field.endsWith('.email');

/** The rest of the sentence after the field's subject, for one of ajv's errors. */
function problem(e: ErrorObject, field: string): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'minLength': {
      const limit = Number(p.limit);
      if (isEmail(field) && limit > 1) return ADDRESS;
      return limit === 1 ? "can't be empty" : `must be at least ${plural(limit, 'character')} long`;
    }
    case 'maxLength': {
      const length = codePoints(e.data);
      const most = `it can be at most ${plural(Number(p.limit), 'character')} long`;
      return length === null ? `is too long: ${most}` : `is ${length} characters long; ${most}`;
    }
    case 'minItems':
      if (field === 'schedule.command') return "can't be empty: give at least the program to run";
      return Number(p.limit) === 1 ? "can't be an empty list" : `needs at least ${Number(p.limit)} entries`;
    case 'maxItems':
      return `can have at most ${Number(p.limit)} ${Number(p.limit) === 1 ? 'entry' : 'entries'}`;
    case 'maxProperties':
      return `can have at most ${plural(Number(p.limit), 'key')}`;
    case 'minimum':
      return `must be at least ${String(p.limit)}`;
    case 'maximum':
      return `must be at most ${String(p.limit)}`;
    case 'exclusiveMinimum':
      return `must be more than ${String(p.limit)}`;
    case 'exclusiveMaximum':
      return `must be less than ${String(p.limit)}`;
    case 'type': {
      const types = String(p.type).split(',');
      return `must be ${types.map((t) => TYPE_WORDS[t] ?? t).join(' or ')}`;
    }
    case 'format':
      return p.format === 'date-time'
        ? 'must be a date and time such as 2026-12-31T23:59:00Z'
        : `must be a ${String(p.format)}`;
    case 'pattern':
      if (isEmail(field)) return ADDRESS;
      if (field === 'cursor') return 'is not a cursor this API handed out (use next_cursor as given)';
      return 'is not in the expected form';
    default:
      return e.message ?? 'is invalid';
  }
}

/**
 * A nullable value (`schedule`, `timeout_seconds`) fails as the errors of its object branch,
 * then "must be null" and an anyOf summary. When the value is not null, only the object
 * branch's errors are news: "schedule must be null" hid the real problem.
 */
function dropNullAlternatives(errors: ErrorObject[]): ErrorObject[] {
  const deeper = (path: string) => errors.some((x) => x.instancePath.startsWith(`${path}/`));
  const dropped = new Set(
    errors
      .filter((e) => e.keyword === 'type' && e.params.type === 'null' && deeper(e.instancePath))
      .map((e) => e.instancePath),
  );
  return errors.filter(
    (e) => !(dropped.has(e.instancePath) && (e.keyword === 'anyOf' || e.keyword === 'type')),
  );
}

/** Turns ajv's error into a sentence that names the field in people's words and the API's. */
export function describeValidationError(errors: ErrorObject[], part: string): FieldError[] {
  return foldUnions(dropNullAlternatives(errors)).map((e) => {
    const base = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
    const join = (name: string) => (base ? `${base}.${name}` : name);
    switch (e.keyword) {
      case 'required': {
        const field = join(String(e.params.missingProperty));
        return { field, message: `${fieldSubject(field)} is required` };
      }
      case 'additionalProperties': {
        const field = join(String(e.params.additionalProperty));
        return { field, message: `${field} is not a known field` };
      }
      case 'enum': {
        const field = base || part;
        const allowed = (e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
        return { field, message: `${fieldSubject(field)} must be one of ${allowed}` };
      }
      default: {
        const field = base || part;
        return { field, message: `${fieldSubject(field)} ${problem(e, field)}` };
      }
    }
  });
}
