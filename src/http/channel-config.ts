/**
 * A channel type's own settings (`config`) as the API takes them: checked against the type's
 * schema, merged over the saved ones on PATCH, and split into the part that is shown and the
 * secret part that is sealed.
 */
import type { ChannelType, ConfigContext } from '../channels/channel.js';
import { badRequest } from '../core/errors.js';
import { checkNested } from './validation.js';

export type ConfigValues = Record<string, unknown>;

export interface ResolvedConfig {
  /** Shown in the API as `config`. */
  config: ConfigValues;
  /** Sealed at rest and never shown; empty when the type has no secret fields. */
  secrets: ConfigValues;
}

/**
 * `input` is the request's `config`; `saved` the channel's current settings (public and
 * secret together) on PATCH. A key given as null is removed (back to its default, or
 * "required" when it has none); keys left out keep their saved values. `context` is the
 * channel's other settings as they will be saved, for checks across both.
 */
export function resolveChannelConfig(
  channelType: ChannelType,
  input: ConfigValues | undefined,
  saved: ConfigValues = {},
  context: ConfigContext = { status_scheme: 'k6' },
): ResolvedConfig {
  const spec = channelType.config;
  if (!spec) {
    if (input && Object.keys(input).length > 0) {
      const [key] = Object.keys(input);
      throw badRequest(
        'validation_failed',
        `config.${key} is not a known field: ${channelType.label} channels take no settings`,
        `config.${key}`,
      );
    }
    return { config: {}, secrets: {} };
  }
  const merged: ConfigValues = { ...saved };
  for (const [key, value] of Object.entries(input ?? {})) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  const checked = checkNested(spec.schema, merged, 'config');
  if (!checked.ok) throw badRequest('validation_failed', checked.error.message, checked.error.field);
  const values = checked.value as ConfigValues;
  const problem = spec.check?.(values, context);
  if (problem) throw badRequest('validation_failed', problem.message, problem.field);
  const secretKeys = new Set(spec.secret ?? []);
  const config: ConfigValues = {};
  const secrets: ConfigValues = {};
  for (const [key, value] of Object.entries(values)) (secretKeys.has(key) ? secrets : config)[key] = value;
  return { config, secrets };
}
