import { Type } from 'typebox';
import { CHANNEL_CATALOGUE } from '../../channels/catalogue.js';
import type { App } from './route-types.js';

const Text = Type.Union([Type.String(), Type.Null()]);

const CatalogueField = Type.Object({
  key: Type.String({ description: 'the key in the channel’s `config`' }),
  label: Type.String(),
  hint: Text,
  placeholder: Text,
  kind: Type.Union([
    Type.Literal('text'),
    Type.Literal('textarea'),
    Type.Literal('number'),
    Type.Literal('select'),
    Type.Literal('list'),
    Type.Literal('secret'),
    Type.Literal('checkbox'),
    Type.Literal('headers'),
  ]),
  required: Type.Boolean({ description: 'must be given on create (required, no default)' }),
  secret: Type.Boolean({ description: 'write-only: never shown, listed in `secrets_set`' }),
  destination: Type.Boolean({ description: 'part of where the channel sends' }),
  credential: Type.Boolean({
    description: 'given again (or null) when the destination changes, else `400 secrets_required`',
  }),
  default: Type.Unknown(),
  options: Type.Union([Type.Array(Type.Object({ value: Type.String(), label: Type.String() })), Type.Null()]),
  schema: Type.Object({}, { additionalProperties: true, description: 'the JSON Schema the server checks' }),
  more: Type.Boolean({
    description: 'an option most channels leave as it is (a template, extra headers): forms fold it away',
  }),
});

/** One event's choice, as a channel's `events` spells it (enabled, triggers, ...). */
const EventChoice = Type.Object({ enabled: Type.Boolean() }, { additionalProperties: true });

const CatalogueType = Type.Object({
  type: Type.String(),
  label: Type.String(),
  description: Type.String(),
  mark: Type.String(),
  url: Type.Object({
    mode: Type.Union([Type.Literal('required'), Type.Literal('optional'), Type.Literal('none')]),
    default: Text,
    placeholder: Text,
    hint: Text,
  }),
  signing: Type.Boolean(),
  status_scheme: Type.Boolean({
    description:
      "a channel's `status_scheme` numbers the statuses it sends (payloads, template variables); other types ignore it",
  }),
  default_events: Type.Object(
    { 'test.started': EventChoice, 'test.finished': EventChoice },
    { description: 'the `events` a new channel gets when the request leaves them out' },
  ),
  refused_events: Type.Array(Type.String()),
  fields: Type.Array(CatalogueField),
});

/**
 * The channel catalogue. It describes the service, not an organization, and holds no secrets:
 * every signed-in user and every API token (any scope, any organization) may read it;
 * anonymous callers get `401` like the rest of the API.
 */
export function channelTypeRoutes(app: App): void {
  app.get(
    '/api/v1/channel-types',
    {
      schema: {
        tags: ['notification channels'],
        summary: 'The channel types this server delivers to, and the settings each takes',
        response: { 200: Type.Object({ items: Type.Array(CatalogueType) }) },
      },
    },
    async () => ({ items: [...CHANNEL_CATALOGUE] }),
  );
}
