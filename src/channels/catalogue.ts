/**
 * The channel catalogue (`GET /api/v1/channel-types`): what each registered type is and how a
 * form asks for its settings, read from the type's own module. The web app builds its
 * Integrations cards and channel form from it, so a new type is its file, its line in the
 * registry and its docs.
 */
import type { ChannelEvents } from '../core/filters.js';
import { DEFAULT_CHANNEL_EVENTS } from '../core/filters.js';
import type { ChannelType } from './channel.js';
import { CHANNEL_TYPES } from './registry.js';

/** How a form shows a setting; read from the schema (and `secret`, `multiline`, `options`). */
/** `headers`: an object of names and values (a webhook's custom headers), written as `Name: value` lines. */
export type FieldKind =
  'text' | 'textarea' | 'number' | 'select' | 'list' | 'secret' | 'checkbox' | 'headers';

export interface CatalogueField {
  /** The key in the API's `config`. */
  key: string;
  label: string;
  hint: string | null;
  placeholder: string | null;
  kind: FieldKind;
  /** Must be given when a channel is created: required by the schema and without a default. */
  required: boolean;
  /** Write-only: sealed at rest, never shown, listed by name in a channel's `secrets_set`. */
  secret: boolean;
  /** Part of where the channel sends: changing it is a new destination. */
  destination: boolean;
  /**
   * A credential that belongs to its destination: a request that changes the destination must
   * give it again or null, else `400 secrets_required`.
   */
  credential: boolean;
  /** The value the server fills in when the field is left out, or null. */
  default: unknown;
  /** The choices of a `select`, with their words; `''` stands for "leave it out". */
  options: { value: string; label: string }[] | null;
  /** The field's JSON Schema, as the server checks it. */
  schema: Record<string, unknown>;
  /** An option most channels leave as it is: forms fold it under "More settings". */
  more: boolean;
}

export interface CatalogueType {
  type: string;
  label: string;
  description: string;
  mark: string;
  url: {
    /** `required`: the person gives one; `optional`: `default` is used without; `none`: made from the settings. */
    mode: 'required' | 'optional' | 'none';
    default: string | null;
    placeholder: string | null;
    hint: string | null;
  };
  /** Requests are signed per Standard Webhooks: a new channel's secret is shown once. */
  signing: boolean;
  /** Its messages number statuses by the channel's `status_scheme`; other types ignore it. */
  status_scheme: boolean;
  /** The events a new channel hears when the request leaves `events` out. */
  default_events: ChannelEvents;
  /** Events a channel of this type may not be set to hear (`400` naming the field). */
  refused_events: (keyof ChannelEvents)[];
  fields: CatalogueField[];
}

const EVENT_NAMES = Object.keys(DEFAULT_CHANNEL_EVENTS) as (keyof ChannelEvents)[];

/** The JSON of a schema: TypeBox keeps its own markers under symbol keys, which JSON drops. */
const plain = (schema: unknown): Record<string, unknown> =>
  JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;

function literals(schema: Record<string, unknown>): string[] | null {
  const anyOf = schema.anyOf as { const?: unknown }[] | undefined;
  if (!anyOf?.every((s) => typeof s.const === 'string')) return null;
  return anyOf.map((s) => s.const as string);
}

function fieldKind(
  schema: Record<string, unknown>,
  secret: boolean,
  multiline: boolean,
  select: boolean,
): FieldKind {
  // An object of names and values, secret or not: the field says which.
  if (schema.type === 'object') return 'headers';
  if (secret) return 'secret';
  if (multiline) return 'textarea';
  if (select) return 'select';
  switch (schema.type) {
    case 'integer':
    case 'number':
      return 'number';
    case 'array':
      return 'list';
    case 'boolean':
      return 'checkbox';
    default:
      return 'text';
  }
}

/** Each config key of a type, in its schema's order. Throws when a key and its words disagree. */
function fields(channelType: ChannelType): CatalogueField[] {
  const spec = channelType.config;
  if (!spec) return [];
  const object = plain(spec.schema);
  const properties = (object.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((object.required ?? []) as string[]);
  const stray = Object.keys(spec.fields).filter((key) => !(key in properties));
  if (stray.length > 0)
    throw new Error(
      `channel type ${channelType.type}: form words for keys its schema lacks: ${stray.join(', ')}`,
    );
  return Object.entries(properties).map(([key, schema]) => {
    const text = spec.fields[key];
    if (!text) throw new Error(`channel type ${channelType.type}: config.${key} has no form words`);
    const choices = literals(schema);
    const options = text.options
      ? text.options.map((o) => ({ ...o }))
      : choices
        ? choices.map((value) => ({ value, label: value }))
        : null;
    const secret = spec.secret?.includes(key) ?? false;
    const needed = required.has(key) && schema.default === undefined;
    // A new channel's form would hide what it cannot be saved without.
    if (text.more && needed)
      throw new Error(
        `channel type ${channelType.type}: config.${key} is required, so it cannot be under More settings`,
      );
    return {
      key,
      label: text.label,
      hint: text.hint ?? null,
      placeholder: text.placeholder ?? null,
      kind: fieldKind(schema, secret, text.multiline === true, options !== null),
      required: needed,
      secret,
      destination: spec.destination?.includes(key) ?? false,
      credential: (spec.credentials ?? spec.secret ?? []).includes(key),
      default: schema.default ?? null,
      options,
      schema,
      more: text.more === true,
    };
  });
}

/** The events the type's own check refuses when a channel is set to hear them. */
function refusedEvents(channelType: ChannelType): (keyof ChannelEvents)[] {
  const base = channelType.defaultEvents ?? DEFAULT_CHANNEL_EVENTS;
  return EVENT_NAMES.filter((name) => {
    const events = structuredClone(base);
    events[name].enabled = true;
    return channelType.checkEvents?.(events) != null;
  });
}

export function catalogueEntry(channelType: ChannelType): CatalogueType {
  const mode = channelType.urlFromConfig ? 'none' : channelType.defaultUrl ? 'optional' : 'required';
  return {
    type: channelType.type,
    label: channelType.label,
    description: channelType.description,
    mark: channelType.mark,
    url: {
      mode,
      default: channelType.defaultUrl ?? null,
      placeholder: channelType.urlHelp?.placeholder ?? null,
      hint: channelType.urlHelp?.hint ?? null,
    },
    signing: channelType.signing === true,
    status_scheme: channelType.numbersStatuses === true,
    default_events: structuredClone(channelType.defaultEvents ?? DEFAULT_CHANNEL_EVENTS),
    refused_events: refusedEvents(channelType),
    fields: fields(channelType),
  };
}

/** Every registered type, in the registry's order; built once, it never changes while running. */
export const CHANNEL_CATALOGUE: readonly CatalogueType[] = CHANNEL_TYPES.map(catalogueEntry);
