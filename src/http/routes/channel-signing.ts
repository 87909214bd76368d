/**
 * Standard Webhooks signing secrets of a channel: created with the channel, rotated with an
 * overlap, removed to send unsigned. A secret is shown in the answer that creates it, never
 * again: the channel view only says whether signing is on and since when.
 */
import type { FastifyRequest } from 'fastify';
import { getChannelType } from '../../channels/registry.js';
import { AppError, conflict } from '../../core/errors.js';
import { generateSigningSecret } from '../../core/signing.js';
import type { SecretBox } from '../../security/secret-box.js';
import {
  channelView,
  findChannel,
  removeSigningSecrets,
  replaceSigningSecrets,
  type ChannelRow,
} from '../../storage/channels-repo.js';
import { requireManager, type Role } from '../access.js';
import type { AppContext } from '../context.js';
import { IdParams } from '../schemas.js';
import type { App } from './route-types.js';

/** How long the secret before a rotation keeps signing, so receivers can switch over. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

/** The columns of a fresh secret for a new channel, and the secret to show once. */
export function newSigningSecret(box: SecretBox, now: number) {
  const secret = generateSigningSecret();
  return {
    secret,
    columns: { signing_secret_sealed: box.seal(secret), signing_created_at: now },
  };
}

type ChannelFor = (req: FastifyRequest, id: number) => Promise<{ channel: ChannelRow; role: Role }>;

export function channelSigningRoutes(app: App, ctx: AppContext, channelFor: ChannelFor): void {
  const signable = async (req: FastifyRequest, id: number, action: string) => {
    const { channel, role } = await channelFor(req, id);
    requireManager(role, action);
    if (!getChannelType(channel.type)?.signing)
      throw new AppError(409, 'not_signable', `${channel.type} channels are not signed`);
    return channel;
  };

  app.post(
    '/api/v1/notification-channels/:id/signing-secret',
    { schema: { tags: ['notification channels'], params: IdParams } },
    async (req) => {
      const channel = await signable(req, req.params.id, 'rotate signing secrets');
      const now = Date.now();
      const { secret, columns } = newSigningSecret(ctx.box, now);
      // The current secret keeps signing for the overlap; one rotated out earlier is dropped.
      const previous =
        channel.signing_secret_sealed === null
          ? { signing_previous_sealed: null, signing_previous_expires_at: null }
          : {
              signing_previous_sealed: channel.signing_secret_sealed,
              signing_previous_expires_at: now + ROTATION_OVERLAP_MS,
            };
      const set = { ...columns, ...previous, updated_at: now };
      // Only over the secret read above: two rotations at once must not both demote it.
      if (!(await replaceSigningSecrets(ctx.db.kysely, channel.id, channel.signing_secret_sealed, set)))
        throw conflict('concurrent_rotation', 'the signing secret was changed at the same time; try again');
      const view = channelView((await findChannel(ctx.db.kysely, channel.id))!, ctx.box);
      return { secret, signing: view.signing };
    },
  );

  app.delete(
    '/api/v1/notification-channels/:id/signing-secret',
    { schema: { tags: ['notification channels'], params: IdParams } },
    async (req, reply) => {
      const channel = await signable(req, req.params.id, 'remove signing secrets');
      await removeSigningSecrets(ctx.db.kysely, channel.id);
      return reply.code(204).send();
    },
  );
}
