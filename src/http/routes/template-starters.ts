import { Type } from 'typebox';
import { STARTERS } from '../../channels/starters.js';
import type { App } from './route-types.js';

const StarterView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  channel_type: Type.Union([Type.Literal('webhook'), Type.Literal('email')]),
  engine: Type.Union([Type.Literal('jinja2'), Type.Literal('liquid')]),
  config: Type.Record(Type.String(), Type.String(), {
    description: 'the `config` keys the starter sets on a channel of `channel_type`',
  }),
});

/**
 * The starter templates (k6 Cloud's Generic, Slack/Microsoft Teams and Email notification, in
 * our own words). Like the channel catalogue they describe the service, not an organization,
 * and hold no secrets: every signed-in user and every API token (any scope, any organization)
 * may read them; anonymous callers get `401` like the rest of the API.
 */
export function templateStarterRoutes(app: App): void {
  app.get(
    '/api/v1/template-starters',
    {
      schema: {
        tags: ['notification channels'],
        summary: 'Starter templates for webhook and e-mail channels, in Jinja2 and Liquid',
        response: { 200: Type.Object({ items: Type.Array(StarterView) }) },
      },
    },
    async () => ({ items: [...STARTERS] }),
  );
}
