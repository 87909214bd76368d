/**
 * The package's library surface: what a receiver of loadnotify's webhooks may import.
 * The service itself starts from the CLI (`loadnotify serve`).
 */
export {
  DEFAULT_TOLERANCE_SECONDS,
  signatureHeader,
  signWebhook,
  verifyWebhook,
  WebhookVerificationError,
  type VerificationFailure,
  type VerifiedWebhook,
  type VerifyOptions,
  type WebhookHeaders,
} from './core/signing.js';
