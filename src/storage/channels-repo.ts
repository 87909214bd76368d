import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { ChannelForDelivery, SigningSecret } from '../channels/channel.js';
import type { ChannelEvents, ChannelFilter } from '../core/filters.js';
import type { K6CloudEventType } from '../core/k6cloud-events.js';
import type { StatusScheme } from '../core/run-status.js';
import type { SecretBox } from '../security/secret-box.js';
import type { Database, NotificationChannelsTable } from './schema.js';
import { iso, isoOrNull } from './time.js';
import { keysetPage, type PageRequest } from './keyset-page.js';
import { retryOnDeadlock } from './deadlock.js';
import { forgetChannelState } from './channel-state-repo.js';

export type ChannelRow = Selectable<NotificationChannelsTable>;
export type ChannelChanges = Updateable<NotificationChannelsTable>;

/** A secret part shorter than this shows no character at all; a longer one its last four. */
export const MIN_PARTLY_SHOWN = 24;
/** A first path segment that reads as a word (`services`, `hooks`, `v2`) names, not unlocks. */
const PLAIN_SEGMENT = /^(?:[a-z][a-z_-]{0,19}|v\d{1,3})$/;

/**
 * Enough of the URL to recognise it, not enough to use it: the origin, the first path segment
 * when there are more and it reads as a word, and the last four characters of the last part
 * when that part is long enough (24+) for four of them to give nothing away (API.md).
 * A short token (`?token=AB`) shows no character; neither does a user, password or fragment.
 */
export function redactUrl(raw: string): string {
  const url = new URL(raw);
  // An address with nothing after the host (an SMTP server: smtp://host:587) hides nothing.
  if (url.pathname === '' && url.search === '' && url.username === '' && url.password === '')
    return `${url.protocol}//${url.host}`;
  const segments = url.pathname.split('/').filter(Boolean);
  const first = segments[0] ?? '';
  const lead = segments.length > 1 && PLAIN_SEGMENT.test(first) ? `/${first}` : '';
  // The part after the last separator is the likeliest secret; none from before it shows.
  const last = (url.pathname + url.search).replace(/\/+$/, '').replace(/^.*[/=?&#;:,]/, '');
  const tail = last.length >= MIN_PARTLY_SHOWN ? last.slice(-4) : '';
  return `${url.protocol}//${url.host}${lead}/****${tail}`;
}

/**
 * The URL as the API shows it, by the rule above: recomputed from the sealed URL, so rows
 * redacted by an older, looser rule (which kept the last four characters of any secret) show
 * no more than new ones. A row the key cannot open shows its origin only.
 */
export function shownUrl(row: Pick<ChannelRow, 'url_sealed' | 'url_redacted'>, box: SecretBox): string {
  try {
    return redactUrl(box.open(row.url_sealed));
  } catch {
    const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(row.url_redacted)?.[0] ?? '';
    return `${origin}/****`;
  }
}

/** The channel's k6 Cloud identifiers, or null when its `events` object decides. */
export function eventTypesOf(row: Pick<ChannelRow, 'event_types'>): K6CloudEventType[] | null {
  return row.event_types ? (JSON.parse(row.event_types) as K6CloudEventType[]) : null;
}

export function channelFilter(row: ChannelRow): ChannelFilter {
  return {
    enabled: row.enabled === 1,
    project_ids: row.project_ids ? (JSON.parse(row.project_ids) as number[]) : null,
    events: JSON.parse(row.events) as ChannelEvents,
    event_types: eventTypesOf(row),
  };
}

export function channelView(row: ChannelRow, box: SecretBox) {
  const filter = channelFilter(row);
  return {
    id: row.id,
    organization_id: row.organization_id,
    type: row.type,
    name: row.name,
    url: shownUrl(row, box),
    enabled: filter.enabled,
    status_scheme: row.status_scheme as StatusScheme,
    project_ids: filter.project_ids,
    /** With `event_types`, their equivalent (see eventsForTypes); the identifiers decide. */
    events: filter.events,
    /** k6 Cloud's identifiers the channel was given instead of `events`, or null. */
    event_types: filter.event_types ?? null,
    config: JSON.parse(row.config) as Record<string, unknown>,
    /** Names of the write-only settings that are set; their values are never shown. */
    secrets_set: Object.keys(JSON.parse(row.secrets_sealed) as Record<string, string>).sort(),
    /** Standard Webhooks signing; the secret itself is shown once, when created or rotated. */
    signing: {
      enabled: row.signing_secret_sealed !== null,
      created_at: isoOrNull(row.signing_created_at),
      previous_expires_at:
        row.signing_previous_sealed !== null ? isoOrNull(row.signing_previous_expires_at) : null,
    },
    disabled_reason: row.disabled_reason,
    /** Until when its events are recorded as skipped (muted) instead of sent; null: not muted. */
    muted_until: row.muted_until !== null && row.muted_until > Date.now() ? iso(row.muted_until) : null,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}
export type ChannelView = ReturnType<typeof channelView>;

export function channelForDelivery(row: ChannelRow, box: SecretBox): ChannelForDelivery {
  return {
    id: row.id,
    organization_id: row.organization_id,
    type: row.type,
    name: row.name,
    url: box.open(row.url_sealed),
    status_scheme: row.status_scheme as StatusScheme,
    config: { ...JSON.parse(row.config), ...openSecrets(row.secrets_sealed, box) } as Record<string, unknown>,
    signing_secrets: signingSecrets(row, box),
    event_types: eventTypesOf(row),
  };
}

/** Newest first; the previous secret with its expiry, which render compares with its clock. */
function signingSecrets(row: ChannelRow, box: SecretBox): SigningSecret[] {
  const secrets: SigningSecret[] = [];
  if (row.signing_secret_sealed !== null)
    secrets.push({ secret: box.open(row.signing_secret_sealed), expires_at: null });
  if (row.signing_previous_sealed !== null && row.signing_previous_expires_at !== null)
    secrets.push({
      secret: box.open(row.signing_previous_sealed),
      expires_at: row.signing_previous_expires_at,
    });
  return secrets;
}

/** Seals each secret setting on its own, so which ones are set stays readable. */
export function sealSecrets(secrets: Record<string, unknown>, box: SecretBox): string {
  return JSON.stringify(
    Object.fromEntries(Object.entries(secrets).map(([key, value]) => [key, box.seal(JSON.stringify(value))])),
  );
}

export function openSecrets(sealed: string, box: SecretBox): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(JSON.parse(sealed) as Record<string, string>).map(([key, value]) => [
      key,
      JSON.parse(box.open(value)) as unknown,
    ]),
  );
}

export async function findChannel(k: Kysely<Database>, id: number): Promise<ChannelRow | undefined> {
  return k.selectFrom('notification_channels').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listChannels(k: Kysely<Database>, organizationId: number, request: PageRequest) {
  const q = k.selectFrom('notification_channels').selectAll().where('organization_id', '=', organizationId);
  return keysetPage(q, 'id', 'asc', request);
}

export async function insertChannel(
  k: Kysely<Database>,
  row: Insertable<NotificationChannelsTable>,
): Promise<number> {
  const { id } = await k
    .insertInto('notification_channels')
    .values(row)
    .returning('id')
    .executeTakeFirstOrThrow();
  return id;
}

/**
 * Writes `set`. With `checked`, only while the channel's destination and secrets are still those
 * the caller checked the change against: a PATCH that moves the channel while another gives
 * secrets for the old destination must not pair the two. False when they had changed.
 *
 * `moved`: the change points the channel elsewhere. Its destination version moves on in the
 * same statement, so what it remembered for where it sent before is neither used nor kept
 * (see channel-state-repo's Destination), and that state is deleted (call it in a transaction
 * then). Any code that changes where a channel sends must come through here with it.
 */
export async function updateChannel(
  k: Kysely<Database>,
  id: number,
  set: ChannelChanges,
  checked: Pick<ChannelRow, 'url_sealed' | 'config' | 'secrets_sealed'> | null,
  moved = false,
): Promise<boolean> {
  let update = k.updateTable('notification_channels').set(set).where('id', '=', id);
  if (moved) update = update.set((eb) => ({ destination_version: eb('destination_version', '+', 1) }));
  if (checked)
    update = update
      .where('url_sealed', '=', checked.url_sealed)
      .where('config', '=', checked.config)
      .where('secrets_sealed', '=', checked.secrets_sealed);
  const result = await update.executeTakeFirst();
  const done = Number(result.numUpdatedRows) === 1;
  if (done && moved) await forgetChannelState(k, id);
  return done;
}

export async function deleteChannel(k: Kysely<Database>, id: number): Promise<void> {
  await retryOnDeadlock(() => k.deleteFrom('notification_channels').where('id', '=', id).execute());
}

/**
 * Replaces the signing secrets with `set`, only while the current secret is still `current`: two
 * rotations at once must not both demote the same secret and lose one of theirs. False when it
 * had changed.
 */
export async function replaceSigningSecrets(
  k: Kysely<Database>,
  id: number,
  current: string | null,
  set: ChannelChanges,
): Promise<boolean> {
  const update = k.updateTable('notification_channels').set(set).where('id', '=', id);
  const result = await (
    current === null
      ? update.where('signing_secret_sealed', 'is', null)
      : update.where('signing_secret_sealed', '=', current)
  ).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Stops signing: the channel's requests go unsigned from now on. */
export async function removeSigningSecrets(k: Kysely<Database>, id: number): Promise<void> {
  await k
    .updateTable('notification_channels')
    .set({
      signing_secret_sealed: null,
      signing_created_at: null,
      signing_previous_sealed: null,
      signing_previous_expires_at: null,
      updated_at: Date.now(),
    })
    .where('id', '=', id)
    .execute();
}
