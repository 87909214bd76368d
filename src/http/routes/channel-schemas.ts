import { Type, type Static } from 'typebox';
import { CHANNEL_TYPES } from '../../channels/registry.js';
import { K6CLOUD_EVENT_TYPES } from '../../core/k6cloud-events.js';
import { RUN_RESULTS, STATUS_SCHEMES, TERMINAL_STATUSES, TRIGGERS } from '../../core/run-status.js';
import { Id, Name } from '../schemas.js';

const literals = <T extends readonly string[]>(values: T) => Type.Union(values.map((v) => Type.Literal(v)));
const uniqueList = <T extends readonly string[]>(values: T) =>
  Type.Array(literals(values), { uniqueItems: true, maxItems: values.length });

export const ChannelTypeName = literals(CHANNEL_TYPES.map((t) => t.type));

/** Per compared figure (core/comparison.ts), the percent it may get worse by unheard. */
const Percent = Type.Number({ minimum: 0, maximum: 100000 });
const WorseByPercentInput = Type.Object(
  {
    p95_ms: Type.Optional(Percent),
    failure_rate: Type.Optional(Percent),
    request_rate: Type.Optional(Percent),
    checks: Type.Optional(Percent),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const EventsInput = Type.Object(
  {
    'test.started': Type.Optional(
      Type.Object(
        { enabled: Type.Optional(Type.Boolean()), triggers: Type.Optional(uniqueList(TRIGGERS)) },
        { additionalProperties: false },
      ),
    ),
    'test.finished': Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          triggers: Type.Optional(uniqueList(TRIGGERS)),
          statuses: Type.Optional(uniqueList(TERMINAL_STATUSES)),
          results: Type.Optional(uniqueList(RUN_RESULTS)),
          only_changes: Type.Optional(Type.Boolean()),
          worse_by_percent: Type.Optional(Type.Union([WorseByPercentInput, Type.Null()])),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type EventsInput = Static<typeof EventsInput>;

/**
 * k6 Cloud's identifiers instead of `events` (checked against the list by name, so an unknown
 * one is named with the valid ones); null goes back to the `events` object.
 */
export const EventTypesInput = Type.Union([
  Type.Array(Type.String({ maxLength: 100 }), {
    minItems: 1,
    maxItems: K6CLOUD_EVENT_TYPES.length,
    uniqueItems: true,
    description: `k6 Cloud's notification events, instead of \`events\`: ${K6CLOUD_EVENT_TYPES.join(', ')}`,
  }),
  Type.Null(),
]);

const Url = Type.String({ minLength: 1, maxLength: 2048 });
/** A config key as the OpenAPI document names it: `header_style (loadimpact | k6cloud)`. */
function describeKey(key: string, schema: unknown): string {
  const branches = (schema as { anyOf?: { const?: unknown }[] }).anyOf;
  const values = branches?.map((b) => b.const).filter((v): v is string => typeof v === 'string');
  return values?.length ? `${key} (${values.join(' | ')})` : key;
}

/**
 * Checked against the channel type's own schema once the type is known (channel-config.ts);
 * the OpenAPI document lists each type's keys, and GET /api/v1/channel-types their schemas.
 */
const Config = Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), {
  maxProperties: 50,
  description: `The type's own settings (GET /api/v1/channel-types has each one's JSON schema). ${CHANNEL_TYPES.map(
    (t) =>
      `${t.type}: ${
        Object.entries(t.config?.schema.properties ?? {})
          .map(([key, schema]) => describeKey(key, schema))
          .join(', ') || 'none'
      }`,
  ).join('; ')}.`,
});
/** Until when the channel is muted (its events recorded as skipped), or null to unmute. */
const MutedUntil = Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
  description: 'Muted until this time: events are recorded as skipped (muted), not sent. null unmutes.',
});
const ProjectIds = Type.Union([Type.Array(Id, { maxItems: 500, uniqueItems: true }), Type.Null()]);

export const ChannelCreate = Type.Object(
  {
    type: ChannelTypeName,
    name: Name,
    url: Type.Optional(Url),
    enabled: Type.Optional(Type.Boolean()),
    status_scheme: Type.Optional(literals(STATUS_SCHEMES)),
    project_ids: Type.Optional(ProjectIds),
    events: Type.Optional(EventsInput),
    event_types: Type.Optional(EventTypesInput),
    config: Type.Optional(Config),
    muted_until: Type.Optional(MutedUntil),
  },
  { additionalProperties: false },
);
export type ChannelCreate = Static<typeof ChannelCreate>;

export const ChannelPatch = Type.Object(
  {
    name: Type.Optional(Name),
    url: Type.Optional(Url),
    enabled: Type.Optional(Type.Boolean()),
    status_scheme: Type.Optional(literals(STATUS_SCHEMES)),
    project_ids: Type.Optional(ProjectIds),
    events: Type.Optional(EventsInput),
    event_types: Type.Optional(EventTypesInput),
    config: Type.Optional(Config),
    muted_until: Type.Optional(MutedUntil),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type ChannelPatch = Static<typeof ChannelPatch>;

export const DeliveryListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,16}$' })),
    state: Type.Optional(literals(['pending', 'delivered', 'failed', 'skipped'] as const)),
  },
  { additionalProperties: false },
);
