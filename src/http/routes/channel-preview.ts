/**
 * What a channel would send, without saving or sending anything: the settings are checked as
 * create checks them, then the type's own render runs on a sample event. The editing form
 * calls it as the person types; `channel_id` previews unsaved edits of a saved channel, whose
 * URL and secret settings the form never has.
 */
import { redactForLog, secretValues } from '../../delivery/redact.js';
import { renderChannel } from '../../delivery/template-pool.js';
import { Type, type Static } from 'typebox';
import type { ChannelForDelivery } from '../../channels/channel.js';
import { getChannelType } from '../../channels/registry.js';
import { AppError, badRequest, notFound } from '../../core/errors.js';
import { EVENT_TYPES } from '../../core/events.js';
import type { StatusScheme } from '../../core/run-status.js';
import { sampleEvent } from '../../core/sample-event.js';
import { generateSigningSecret } from '../../core/signing.js';
import { eventTypesOf, findChannel, openSecrets, redactUrl } from '../../storage/channels-repo.js';
import {
  requireCredentialsForDestination,
  checkTemplates,
  resolveChannelConfig,
  type ConfigValues,
} from '../channel-config.js';
import type { AppContext } from '../context.js';
import { requireManager, roleIn } from '../access.js';
import { Id } from '../schemas.js';
import { ChannelCreate } from './channel-schemas.js';
import { channelEventTypes, channelPolicy, channelUrl, checkProjects } from './notification-channels.js';
import type { App } from './route-types.js';

const { type, name, ...settings } = ChannelCreate.properties;
export const PreviewBody = Type.Object(
  {
    ...settings,
    type: Type.Optional(type),
    name: Type.Optional(name),
    organization_id: Type.Optional(Id),
    channel_id: Type.Optional(Id),
    event: Type.Optional(Type.Union(EVENT_TYPES.map((e) => Type.Literal(e)))),
  },
  { additionalProperties: false },
);
type PreviewBody = Static<typeof PreviewBody>;

/** Header values that carry credentials are shown like the URL: recognisable, not usable. */
const SECRET_HEADERS = /^(authorization|proxy-authorization|x-api-key|x-routing-key)$/i;
const SIGNATURE_NOTE = 'v1,<signed at delivery with the channel signing secret>';

export function channelPreviewRoutes(app: App, ctx: AppContext): void {
  const preview = async (req: Parameters<typeof roleIn>[1], orgId: number | undefined, b: PreviewBody) => {
    const saved = b.channel_id === undefined ? undefined : await findChannel(ctx.db.kysely, b.channel_id);
    if (b.channel_id !== undefined) {
      if (!saved || (orgId !== undefined && saved.organization_id !== orgId))
        throw notFound('notification channel');
      orgId = saved.organization_id;
    }
    if (orgId === undefined)
      throw badRequest('validation_failed', 'organization_id is required (or channel_id)', 'organization_id');
    requireManager(await roleIn(ctx, req, orgId), 'preview notification channels');
    if (saved && b.type !== undefined && b.type !== saved.type)
      throw badRequest('validation_failed', `type: channel ${saved.id} is a ${saved.type} channel`, 'type');
    const typeName = saved?.type ?? b.type;
    if (typeName === undefined) throw badRequest('validation_failed', 'type is required', 'type');
    const channelType = getChannelType(typeName);
    if (!channelType) throw new AppError(409, 'unknown_type', `channel type ${typeName} is not supported`);

    const status_scheme = b.status_scheme ?? (saved?.status_scheme as StatusScheme | undefined) ?? 'k6';
    const savedValues: ConfigValues = saved
      ? { ...(JSON.parse(saved.config) as ConfigValues), ...openSecrets(saved.secrets_sealed, ctx.box) }
      : {};
    const { config, secrets } = resolveChannelConfig(channelType, b.config, savedValues, {
      status_scheme,
      policy: channelPolicy(ctx),
    });
    await checkTemplates(channelType, config, orgId);
    const values = { ...config, ...secrets };
    const savedUrl = saved ? ctx.box.open(saved.url_sealed) : undefined;
    const url =
      savedUrl !== undefined && b.url === undefined && !channelType.urlFromConfig
        ? savedUrl
        : channelUrl(ctx, channelType, b.url, values);
    // Unsaved edits that move a saved channel get its secrets only as a PATCH would.
    if (savedUrl !== undefined)
      requireCredentialsForDestination(
        channelType,
        b.config,
        { url: savedUrl, values: savedValues },
        { url, values },
      );
    await checkProjects(ctx, orgId, b.project_ids);

    // A new channel of a signing type will be signed; a saved one only while it has a secret.
    const signed = channelType.signing === true && (saved ? saved.signing_secret_sealed !== null : true);
    const channel: ChannelForDelivery = {
      id: saved?.id ?? 0,
      organization_id: orgId,
      type: typeName,
      name: b.name ?? saved?.name ?? channelType.label,
      url,
      status_scheme,
      config: values,
      signing_secrets: signed ? [{ secret: generateSigningSecret(), expires_at: null }] : [],
      event_types:
        b.event_types === undefined
          ? saved
            ? eventTypesOf(saved)
            : null
          : b.event_types && channelEventTypes(channelType, b.event_types).eventTypes,
    };
    const now = new Date();
    const event = sampleEvent(b.event ?? 'test.finished', orgId, now);
    let rendered;
    try {
      // A template renders in a template worker, like a delivery's: the person typing in the
      // form may be the one trying a hostile one.
      rendered = await renderChannel(channelType, event, channel, {
        webhookId: 'msg_preview',
        requestId: '00000000-0000-4000-8000-000000000000',
        publicUrl: ctx.config.publicUrl,
        now,
      });
    } catch (err) {
      // No worker free (TemplateBusyError) is already a 503.
      if (err instanceof AppError) throw err;
      throw new AppError(422, 'render_failed', err instanceof Error ? err.message : String(err));
    }
    // Secret settings the type puts in the request (PagerDuty's routing key) stay write-only.
    const request = redactForLog(rendered, secretValues(channelType, channel));
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([key, value]) => [
        key,
        key.toLowerCase() === 'webhook-signature'
          ? SIGNATURE_NOTE
          : SECRET_HEADERS.test(key)
            ? '****'
            : value,
      ]),
    );
    return {
      event: event.data.type,
      method: request.method,
      url: redactUrl(request.url),
      headers,
      body: request.body,
    };
  };

  app.post(
    '/api/v1/notification-channels/preview',
    { schema: { tags: ['notification channels'], body: PreviewBody } },
    async (req) => preview(req, req.body.organization_id, req.body),
  );

  app.post(
    '/api/v1/organizations/:id/notification-channels/preview',
    { schema: { tags: ['notification channels'], params: Type.Object({ id: Id }), body: PreviewBody } },
    async (req) => {
      if (req.body.organization_id !== undefined && req.body.organization_id !== req.params.id)
        throw badRequest('validation_failed', 'organization_id differs from the path', 'organization_id');
      return preview(req, req.params.id, req.body);
    },
  );
}
