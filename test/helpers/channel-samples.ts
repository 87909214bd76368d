import { CHANNEL_TYPES } from '../../src/channels/registry.js';

/**
 * What each channel type needs besides its address to be saved, for tests that walk every
 * registered type. A type missing here fails those tests, so a new type cannot skip them.
 */
export const SAMPLE_CONFIG: Record<string, Record<string, unknown>> = {
  webhook: {},
  slack: {},
  hipchat: {},
  msteams: {},
  discord: {},
  googlechat: {},
  mattermost: {},
  pagerduty: { routing_key: 'R0UTINGKEY0123456789abcdefABCDEF' },
  grafana: {
    token: 'glsa_HOJzSoCkLRnGdLFQGMvzwbcBYGcy9TAz_3fa29c07',
    dashboard_uid: 'cLV5GDCkz',
    panel_id: 2,
    tags: ['env:staging', 'team:web'],
  },
  github: { token: 'github_pat_SAMPLE0token0for0tests', repositories: ['acme/shop'] },
  gitlab: { token: 'glpat-SAMPLE0token0for0tests', repositories: ['acme/*'] },
  email: { host: '127.0.0.1', port: 2525, security: 'none', from: 'ln@example.com', to: ['ops@example.com'] },
};

/**
 * A create body for `type` aimed at `url`. Types addressed by their settings (e-mail) get the
 * URL's host and port as their server instead.
 */
export function channelBody(type: string, url: string, extra: Record<string, unknown> = {}) {
  const channelType = CHANNEL_TYPES.find((c) => c.type === type);
  if (!channelType || !(type in SAMPLE_CONFIG)) throw new Error(`add a sample config for ${type}`);
  const config = { ...SAMPLE_CONFIG[type] };
  if (!channelType.urlFromConfig) return { type, name: type, url, config, ...extra };
  const parsed = new URL(url);
  config.host = parsed.hostname;
  config.port = Number(parsed.port);
  return { type, name: type, config, ...extra };
}
