/**
 * A channel type's own settings (`config`) as the API takes them: checked against the type's
 * schema, merged over the saved ones on PATCH, and split into the part that is shown and the
 * secret part that is sealed.
 */
import type { ChannelType, ConfigContext } from '../channels/channel.js';
import { AppError, badRequest } from '../core/errors.js';
import { checkInPool } from '../delivery/template-pool.js';
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

/**
 * The templates a channel's settings hold must parse: each is checked in a template worker
 * (the engines are never loaded on the service's thread), for the organization `tenant`. A
 * 400 names the field and the line; a 503 when no worker was free.
 */
export async function checkTemplates(
  channelType: ChannelType,
  config: ConfigValues,
  tenant: number,
): Promise<void> {
  for (const t of channelType.config?.templates?.(config) ?? []) {
    // No worker free: a TemplateBusyError, answered 503 like any AppError.
    const problem = await checkInPool(t.source, t.engine, tenant);
    if (problem !== null) throw badRequest('validation_failed', `${t.field}: ${problem}`, t.field);
  }
}

/** Where a channel sends: its URL and the settings its type counts as part of the address. */
export interface Destination {
  url: string;
  values: ConfigValues;
}

/** The keys a new destination must be given again: the type's credentials, else its secrets. */
export function credentialKeys(channelType: ChannelType): readonly string[] {
  return channelType.config?.credentials ?? channelType.config?.secret ?? [];
}

/** What makes `next` another destination than `saved`, as the API names the fields. */
function destinationChanges(channelType: ChannelType, saved: Destination, next: Destination): string[] {
  const changed = (channelType.config?.destination ?? [])
    .filter((key) => JSON.stringify(saved.values[key]) !== JSON.stringify(next.values[key]))
    .map((key) => `config.${key}`);
  // A type addressed by its settings derives its URL from them: the keys already say it.
  if (saved.url !== next.url && (changed.length === 0 || !channelType.urlFromConfig)) changed.unshift('url');
  return changed;
}

/**
 * Secrets follow their destination. Saved credentials (an SMTP login, a routing key) were
 * given for the server they were saved with; a request that points the channel elsewhere must
 * give each of them again or remove it (null), or anyone allowed to edit the channel could
 * have them sent to a server of their own. `input` is the request's `config`. Throws a `400`
 * naming every credential to re-enter; the caller has written nothing yet. Returns whether the
 * channel moves (what it remembered for the old destination is then forgotten).
 *
 * The Standard Webhooks signing secret is not among them: it never leaves the service (the
 * receiver gets an HMAC, which does not reveal the key), so a new receiver learns nothing it
 * could use elsewhere; it authenticates us to whoever receives. Rotating it on every URL change
 * would break a receiver that merely moved, and whoever hands the channel to another party
 * rotates it with `POST /notification-channels/:id/signing-secret`.
 */
export function requireCredentialsForDestination(
  channelType: ChannelType,
  input: ConfigValues | undefined,
  saved: Destination,
  next: Destination,
): boolean {
  const changes = destinationChanges(channelType, saved, next);
  if (changes.length === 0) return false;
  const missing = credentialKeys(channelType)
    .filter((key) => saved.values[key] !== undefined && input?.[key] === undefined)
    .map((key) => `config.${key}`);
  if (missing.length === 0) return true;
  const message = `this request changes where the channel sends (${changes.join(', ')}), and saved secrets stay with the destination they were given for: give ${missing.join(' and ')} again, or null to remove them`;
  throw new AppError(
    400,
    'secrets_required',
    message,
    missing.map((field) => ({ field, message: `${field} must be given again for the new destination` })),
  );
}
