import { Type } from 'typebox';
import type { ChannelPolicy, ChannelType } from '../../channels/channel.js';
import { getChannelType } from '../../channels/registry.js';
import { AppError, badRequest, conflict, notFound } from '../../core/errors.js';
import { DEFAULT_CHANNEL_EVENTS, type ChannelEvents } from '../../core/filters.js';
import {
  eventsForTypes,
  isK6CloudEventType,
  K6CLOUD_EVENT_TYPES,
  type K6CloudEventType,
} from '../../core/k6cloud-events.js';
import type { StatusScheme } from '../../core/run-status.js';
import {
  channelView,
  deleteChannel,
  findChannel,
  insertChannel,
  listChannels,
  openSecrets,
  redactUrl,
  sealSecrets,
  updateChannel,
  type ChannelChanges,
} from '../../storage/channels-repo.js';
import { projectsAmong } from '../../storage/projects-repo.js';
import { mapPage } from '../../storage/keyset-page.js';
import {
  requireCredentialsForDestination,
  checkTemplates,
  resolveChannelConfig,
  type ConfigValues,
} from '../channel-config.js';
import type { AppContext } from '../context.js';
import { requireManager, roleIn } from '../access.js';
import { Id, IdParams, ListQuery } from '../schemas.js';
import { ChannelCreate, ChannelPatch, type EventsInput } from './channel-schemas.js';
import { channelSigningRoutes, newSigningSecret } from './channel-signing.js';
import { channelTypeRoutes } from './channel-types.js';
import { templateStarterRoutes } from './template-starters.js';
import { testChannel } from './channel-test.js';
import type { App } from './route-types.js';

function mergeEvents(base: ChannelEvents, input: EventsInput | undefined): ChannelEvents {
  return {
    'test.started': { ...base['test.started'], ...input?.['test.started'] },
    'test.finished': { ...base['test.finished'], ...input?.['test.finished'] },
  };
}

/** What the operator allowed that channel settings are checked against. */
export function channelPolicy(ctx: AppContext): ChannelPolicy {
  return { smtpPlaintextAuthLoopback: ctx.config.smtpPlaintextAuthLoopback };
}

/**
 * The channel's address: the given URL, the type's default, or (for types addressed by their
 * settings) derived from the config. The error names the field to fix.
 */
export function channelUrl(
  ctx: AppContext,
  channelType: ChannelType,
  given: string | undefined,
  values: ConfigValues,
): string {
  if (channelType.urlFromConfig) {
    if (given !== undefined)
      throw badRequest(
        'validation_failed',
        `url: ${channelType.label} channels take their address from config, not url`,
        'url',
      );
    return checkUrl(ctx, channelType, channelType.urlFromConfig(values), 'config');
  }
  const raw = given ?? channelType.defaultUrl;
  if (raw === undefined) throw badRequest('validation_failed', 'url is required', 'url');
  return checkUrl(ctx, channelType, raw);
}

/**
 * Parses and checks a channel URL for its type. The error names `url`, or `config` for a type
 * whose address is made from its settings.
 */
function checkUrl(ctx: AppContext, channelType: ChannelType, raw: string, field = 'url'): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badRequest('invalid_url', `${field}: not an absolute URL`, field);
  }
  const problem = channelType.checkUrl(url) ?? ctx.egress.checkUrl(url);
  if (problem) throw badRequest('invalid_url', `${field}: ${problem}`, field);
  return url.toString();
}

/**
 * `muted_until` as stored: epoch ms, or null to unmute. A time already past would mute
 * nothing, so it is refused rather than taken for an unmute.
 */
function mutedUntil(given: string | null): number | null {
  if (given === null) return null;
  const at = Date.parse(given);
  if (Number.isNaN(at))
    throw badRequest(
      'validation_failed',
      'muted_until must be a date and time such as 2027-01-31T12:00:00Z, or null to unmute',
      'muted_until',
    );
  if (at <= Date.now())
    throw badRequest(
      'validation_failed',
      'muted_until must be in the future; null unmutes the channel',
      'muted_until',
    );
  return at;
}

/** The events as they will be saved, checked against what the type can send. */
function channelEvents(
  channelType: ChannelType,
  base: ChannelEvents,
  input: EventsInput | undefined,
): ChannelEvents {
  const events = mergeEvents(base, input);
  const problem = channelType.checkEvents?.(events);
  if (problem) throw badRequest('validation_failed', problem.message, problem.field);
  return events;
}

/**
 * k6 Cloud's identifiers as they will be saved, with the `events` object they amount to
 * (checked against what the type can send like `events`). Unknown ones are named, with the
 * list of valid ones.
 */
export function channelEventTypes(
  channelType: ChannelType,
  input: readonly string[],
): { eventTypes: K6CloudEventType[]; events: ChannelEvents } {
  const unknown = input.filter((id) => !isK6CloudEventType(id));
  if (unknown.length > 0)
    throw badRequest(
      'validation_failed',
      `event_types: ${unknown.map((id) => JSON.stringify(id)).join(', ')} ${unknown.length === 1 ? 'is not an event type' : 'are not event types'}; the event types are ${K6CLOUD_EVENT_TYPES.join(', ')}`,
      'event_types',
    );
  const eventTypes = input as K6CloudEventType[];
  const { events } = eventsForTypes(eventTypes);
  const problem = channelType.checkEvents?.(events);
  if (problem) throw badRequest('validation_failed', `event_types: ${problem.message}`, 'event_types');
  return { eventTypes, events };
}

/** `events` and `event_types` are two ways to say one thing: a request uses one of them. */
function oneFilterForm(body: { events?: unknown; event_types?: unknown }): void {
  if (body.events !== undefined && body.event_types !== undefined && body.event_types !== null)
    throw badRequest(
      'validation_failed',
      'event_types: give either events or event_types, not both',
      'event_types',
    );
}

export async function checkProjects(
  ctx: AppContext,
  organizationId: number,
  ids: number[] | null | undefined,
): Promise<void> {
  if (!ids || ids.length === 0) return;
  const known = await projectsAmong(ctx.db.kysely, organizationId, ids);
  const missing = ids.filter((id) => !known.has(id));
  if (missing.length > 0)
    throw badRequest(
      'validation_failed',
      `project_ids: no project ${missing.join(', ')} in this organization`,
      'project_ids',
    );
}

export function notificationChannelRoutes(app: App, ctx: AppContext): void {
  const channelFor = async (req: Parameters<typeof roleIn>[1], id: number) => {
    const channel = await findChannel(ctx.db.kysely, id);
    if (!channel) throw notFound('notification channel');
    const role = await roleIn(ctx, req, channel.organization_id, 'notification channel');
    return { channel, role };
  };

  app.get(
    '/api/v1/organizations/:id/notification-channels',
    { schema: { tags: ['notification channels'], params: Type.Object({ id: Id }), querystring: ListQuery } },
    async (req) => {
      await roleIn(ctx, req, req.params.id);
      const channels = await listChannels(ctx.db.kysely, req.params.id, req.query);
      return mapPage(channels, (row) => channelView(row, ctx.box));
    },
  );

  app.post(
    '/api/v1/organizations/:id/notification-channels',
    { schema: { tags: ['notification channels'], params: Type.Object({ id: Id }), body: ChannelCreate } },
    async (req, reply) => {
      const orgId = req.params.id;
      requireManager(await roleIn(ctx, req, orgId), 'create notification channels');
      const channelType = getChannelType(req.body.type)!;
      const { config, secrets } = resolveChannelConfig(
        channelType,
        req.body.config,
        {},
        { status_scheme: req.body.status_scheme ?? 'k6', policy: channelPolicy(ctx) },
      );
      await checkTemplates(channelType, config, orgId);
      const url = channelUrl(ctx, channelType, req.body.url, { ...config, ...secrets });
      oneFilterForm(req.body);
      const typed = req.body.event_types ? channelEventTypes(channelType, req.body.event_types) : null;
      const events =
        typed?.events ??
        channelEvents(channelType, channelType.defaultEvents ?? DEFAULT_CHANNEL_EVENTS, req.body.events);
      await checkProjects(ctx, orgId, req.body.project_ids);
      const now = Date.now();
      // Signed from the start: a receiver can verify the first event it gets.
      const signing = channelType.signing ? newSigningSecret(ctx.box, now) : null;
      const id = await insertChannel(ctx.db.kysely, {
        organization_id: orgId,
        type: req.body.type,
        name: req.body.name,
        url_sealed: ctx.box.seal(url),
        url_redacted: redactUrl(url),
        enabled: req.body.enabled === false ? 0 : 1,
        status_scheme: req.body.status_scheme ?? 'k6',
        project_ids: req.body.project_ids ? JSON.stringify(req.body.project_ids) : null,
        events: JSON.stringify(events),
        event_types: typed ? JSON.stringify(typed.eventTypes) : null,
        config: JSON.stringify(config),
        secrets_sealed: sealSecrets(secrets, ctx.box),
        disabled_reason: null,
        consecutive_failures: 0,
        muted_until: req.body.muted_until === undefined ? null : mutedUntil(req.body.muted_until),
        created_at: now,
        updated_at: now,
        ...signing?.columns,
      });
      const view = channelView((await findChannel(ctx.db.kysely, id))!, ctx.box);
      // The one time the secret is shown.
      return reply.code(201).send(signing ? { ...view, signing_secret: signing.secret } : view);
    },
  );

  app.get(
    '/api/v1/notification-channels/:id',
    { schema: { tags: ['notification channels'], params: IdParams } },
    async (req) => channelView((await channelFor(req, req.params.id)).channel, ctx.box),
  );

  app.patch(
    '/api/v1/notification-channels/:id',
    { schema: { tags: ['notification channels'], params: IdParams, body: ChannelPatch } },
    async (req) => {
      const { channel, role } = await channelFor(req, req.params.id);
      requireManager(role, 'edit notification channels');
      const b = req.body;
      const channelType = getChannelType(channel.type);
      if (!channelType)
        throw new AppError(409, 'unknown_type', `channel type ${channel.type} is not supported`);
      const set: ChannelChanges = { updated_at: Date.now() };
      if (b.name !== undefined) set.name = b.name;
      // Opened only when the request touches the settings or the URL: a rename needs no key.
      const touched = b.config !== undefined || b.status_scheme !== undefined || b.url !== undefined;
      const saved: ConfigValues = touched
        ? { ...(JSON.parse(channel.config) as ConfigValues), ...openSecrets(channel.secrets_sealed, ctx.box) }
        : {};
      let values: ConfigValues | undefined;
      // A new status scheme is checked against the saved config too (payload_version).
      if (b.config !== undefined || b.status_scheme !== undefined) {
        const { config, secrets } = resolveChannelConfig(channelType, b.config ?? {}, saved, {
          status_scheme: b.status_scheme ?? (channel.status_scheme as StatusScheme),
          policy: channelPolicy(ctx),
        });
        await checkTemplates(channelType, config, channel.organization_id);
        set.config = JSON.stringify(config);
        set.secrets_sealed = sealSecrets(secrets, ctx.box);
        values = { ...config, ...secrets };
      }
      let url: string | undefined;
      // A URL given, or settings that a type derives its address from, changed.
      if (b.url !== undefined || (values && channelType.urlFromConfig)) {
        url = channelUrl(ctx, channelType, b.url, values ?? {});
        set.url_sealed = ctx.box.seal(url);
        set.url_redacted = redactUrl(url);
      }
      let moved = false;
      if (touched) {
        const savedUrl = ctx.box.open(channel.url_sealed);
        moved = requireCredentialsForDestination(
          channelType,
          b.config,
          { url: savedUrl, values: saved },
          { url: url ?? savedUrl, values: values ?? saved },
        );
      }
      if (b.status_scheme !== undefined) set.status_scheme = b.status_scheme;
      if (b.muted_until !== undefined) set.muted_until = mutedUntil(b.muted_until);
      if (b.project_ids !== undefined) {
        await checkProjects(ctx, channel.organization_id, b.project_ids);
        set.project_ids = b.project_ids ? JSON.stringify(b.project_ids) : null;
      }
      oneFilterForm(b);
      if (b.events !== undefined) {
        set.events = JSON.stringify(
          channelEvents(channelType, JSON.parse(channel.events) as ChannelEvents, b.events),
        );
        // The events object given: it decides from now on.
        set.event_types = null;
      }
      if (b.event_types === null) set.event_types = null;
      else if (b.event_types !== undefined) {
        const typed = channelEventTypes(channelType, b.event_types);
        set.events = JSON.stringify(typed.events);
        set.event_types = JSON.stringify(typed.eventTypes);
      }
      if (b.enabled !== undefined) {
        set.enabled = b.enabled ? 1 : 0;
        // Switching a channel back on is the person saying the cause is fixed.
        if (b.enabled) Object.assign(set, { disabled_reason: null, consecutive_failures: 0 });
      }
      // Only over the destination and secrets the checks above read (see updateChannel).
      // What the channel remembered (an annotation's id) belongs to where it sent: a move forgets it.
      const updated = await ctx.db.kysely
        .transaction()
        .execute((trx) => updateChannel(trx, channel.id, set, touched ? channel : null, moved));
      if (!updated)
        throw conflict(
          'concurrent_update',
          'the channel was changed at the same time; load it again and retry',
        );
      return channelView((await findChannel(ctx.db.kysely, channel.id))!, ctx.box);
    },
  );

  app.delete(
    '/api/v1/notification-channels/:id',
    { schema: { tags: ['notification channels'], params: IdParams } },
    async (req, reply) => {
      const { channel, role } = await channelFor(req, req.params.id);
      requireManager(role, 'delete notification channels');
      await deleteChannel(ctx.db.kysely, channel.id);
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/v1/notification-channels/:id/test',
    { schema: { tags: ['notification channels'], params: IdParams } },
    async (req) => {
      const { channel, role } = await channelFor(req, req.params.id);
      requireManager(role, 'test notification channels');
      if (!getChannelType(channel.type))
        throw new AppError(409, 'unknown_type', `channel type ${channel.type} is not supported`);
      return testChannel(ctx, channel);
    },
  );

  channelSigningRoutes(app, ctx, channelFor);
  channelTypeRoutes(app);
  templateStarterRoutes(app);
}
