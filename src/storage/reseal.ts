/**
 * Key rotation's storage side: every sealed value re-sealed under the current key, one channel
 * at a time. Each channel's values change together in one statement that only applies while
 * they are still the ones read, so a rotation killed at any point leaves every channel either
 * as it was or fully re-sealed, both readable with the two keys, and running it again picks up
 * where it stopped. A channel the API changed meanwhile is read again.
 */
import type { Kysely } from 'kysely';
import type { SecretBox } from '../security/secret-box.js';
import type { Database, NotificationChannelsTable } from './schema.js';

/**
 * Every column of notification_channels holding sealed values. secrets_sealed is a JSON object
 * of sealed values (a type's secret settings: SMTP password, routing key); the others are one
 * sealed value or null. A new sealed column must be added here, or rotation leaves it behind.
 */
const SINGLE = ['url_sealed', 'signing_secret_sealed', 'signing_previous_sealed'] as const;
const OBJECT = 'secrets_sealed' as const;

type Sealed = Pick<NotificationChannelsTable, (typeof SINGLE)[number]> & { secrets_sealed: string };
type Row = Sealed & { id: number };

export interface ResealProgress {
  /** Channels looked at so far, and in all (as counted at the start). */
  seen: number;
  total: number;
  resealed: number;
}

export interface ResealResult extends ResealProgress {
  /** Channels whose values neither key opens, with why; they are left as they are. */
  failed: { id: number; error: string }[];
}

const BATCH = 100;

/** The row's sealed values under the current key, or null when they already are. */
function resealed(row: Sealed, box: SecretBox): Sealed | null {
  const again = (v: string) => (box.isCurrent(v) ? v : box.seal(box.open(v)));
  const secrets = JSON.parse(row.secrets_sealed) as Record<string, string>;
  const next: Sealed = {
    url_sealed: again(row.url_sealed),
    signing_secret_sealed: row.signing_secret_sealed === null ? null : again(row.signing_secret_sealed),
    signing_previous_sealed: row.signing_previous_sealed === null ? null : again(row.signing_previous_sealed),
    secrets_sealed: JSON.stringify(
      Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, again(v)])),
    ),
  };
  const same = SINGLE.every((c) => next[c] === row[c]) && next.secrets_sealed === row.secrets_sealed;
  return same ? null : next;
}

/** Writes `next` only while the row still holds `was`; false when someone changed it meanwhile. */
async function replace(k: Kysely<Database>, id: number, was: Sealed, next: Sealed): Promise<boolean> {
  let update = k.updateTable('notification_channels').set(next).where('id', '=', id);
  for (const c of [...SINGLE, OBJECT]) {
    const old = was[c];
    update = old === null ? update.where(c, 'is', null) : update.where(c, '=', old);
  }
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function resealChannels(
  k: Kysely<Database>,
  box: SecretBox,
  onProgress: (p: ResealProgress) => void = () => {},
  /** Called after each channel is re-sealed (the crash test stops the process there). */
  afterEach: (resealedSoFar: number) => void = () => {},
): Promise<ResealResult> {
  const { n } = await k
    .selectFrom('notification_channels')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  const progress: ResealResult = { seen: 0, total: Number(n), resealed: 0, failed: [] };
  let after = 0;
  for (;;) {
    const rows: Row[] = await k
      .selectFrom('notification_channels')
      .select(['id', ...SINGLE, OBJECT])
      .where('id', '>', after)
      .orderBy('id')
      .limit(BATCH)
      .execute();
    if (rows.length === 0) break;
    for (let row of rows) {
      for (let tries = 0; ; tries++) {
        let next: Sealed | null;
        try {
          next = resealed(row, box);
        } catch (err) {
          progress.failed.push({ id: row.id, error: (err as Error).message });
          break;
        }
        if (next === null) break;
        if (await replace(k, row.id, row, next)) {
          progress.resealed++;
          afterEach(progress.resealed);
          break;
        }
        // The API changed the channel since it was read (or deleted it): read it again.
        const fresh = await k
          .selectFrom('notification_channels')
          .select(['id', ...SINGLE, OBJECT])
          .where('id', '=', row.id)
          .executeTakeFirst();
        if (!fresh) break;
        if (tries >= 5) {
          progress.failed.push({
            id: row.id,
            error: 'it kept changing while being re-sealed; run rotate-key again',
          });
          break;
        }
        row = fresh;
      }
    }
    progress.seen += rows.length;
    after = rows[rows.length - 1]!.id;
    onProgress({
      seen: progress.seen,
      total: Math.max(progress.total, progress.seen),
      resealed: progress.resealed,
    });
  }
  return progress;
}

/**
 * The channels whose sealed values none of `box`'s keys opens, with why: after a restore, what
 * the key in place leaves unreadable (a backup's key is not in it).
 */
export async function unopenedChannels(
  k: Kysely<Database>,
  box: SecretBox,
): Promise<{ total: number; failed: { id: number; error: string }[] }> {
  const rows: Row[] = await k
    .selectFrom('notification_channels')
    .select(['id', ...SINGLE, OBJECT])
    .orderBy('id')
    .execute();
  const failed: { id: number; error: string }[] = [];
  for (const row of rows) {
    try {
      resealed(row, box);
    } catch (err) {
      failed.push({ id: row.id, error: (err as Error).message });
    }
  }
  return { total: rows.length, failed };
}
