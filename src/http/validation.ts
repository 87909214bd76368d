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
  coerceTypes: false,
  removeAdditional: false,
  useDefaults: true,
  strict: false,
});
const coercing = new Ajv({
  allErrors: false,
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

/** Turns ajv's error into one that names the field the way a person would write it. */
export function describeValidationError(errors: ErrorObject[], part: string): FieldError[] {
  return foldUnions(errors).map((e) => {
    const base = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
    const join = (name: string) => (base ? `${base}.${name}` : name);
    switch (e.keyword) {
      case 'required': {
        const field = join(String(e.params.missingProperty));
        return { field, message: `${field} is required` };
      }
      case 'additionalProperties': {
        const field = join(String(e.params.additionalProperty));
        return { field, message: `${field} is not a known field` };
      }
      case 'enum': {
        const field = base || part;
        const allowed = (e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
        return { field, message: `${field} must be one of ${allowed}` };
      }
      default: {
        const field = base || part;
        return { field, message: `${field} ${e.message ?? 'is invalid'}` };
      }
    }
  });
}
