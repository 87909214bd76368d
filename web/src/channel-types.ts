/**
 * The channel types the UI offers. Adding a type the server supports is one entry here:
 * the Integrations page draws a card and the form adapts its labels, hints and settings
 * fields from it.
 */
export interface ChannelTypeInfo {
  type: string;
  label: string;
  description: string;
  /**
   * `required` (the default): the person pastes a URL. `optional`: the type has a default
   * (left empty, the server uses it). `none`: the address comes from the settings fields.
   */
  url?: 'required' | 'optional' | 'none';
  urlPlaceholder: string;
  urlHint: string;
  /** A short glyph for the card; decorative only. */
  mark: string;
  /** The type's own settings, in the order the form shows them (the API's `config`). */
  fields?: readonly ConfigField[];
  /** Requests are signed per Standard Webhooks: the page shows the secret once and can rotate it. */
  signing?: boolean;
  /** The server refuses `test.started` for this type (PagerDuty pages on outcomes only). */
  noStarts?: boolean;
}

interface FieldBase {
  /** The key in the API's `config`. */
  key: string;
  label: string;
  hint?: string;
  required?: boolean;
}

/**
 * One setting. `secret` fields are write-only: the form never shows the saved value and
 * sends one only when the person types it. `list` is a comma- or line-separated list of
 * strings; `textarea` is multi-line text sent as it is.
 */
export type ConfigField =
  | (FieldBase & { kind: 'text' | 'secret' | 'textarea' | 'list'; placeholder?: string })
  | (FieldBase & { kind: 'number'; placeholder?: string; min?: number; max?: number })
  | (FieldBase & { kind: 'select'; options: readonly { value: string; label: string }[]; default: string })
  | (FieldBase & { kind: 'checkbox'; default: boolean });

export const CHANNEL_TYPES: readonly ChannelTypeInfo[] = [
  {
    type: 'webhook',
    label: 'WebHook',
    description: 'An HTTP POST with a JSON payload to any URL, compatible with k6 Cloud webhook receivers.',
    urlPlaceholder: 'https://ci.example.com/hooks/load-tests',
    urlHint: 'loadnotify POSTs JSON with X-LoadImpact-Event and X-LoadImpact-ID headers to this URL.',
    mark: '{ }',
    signing: true,
    fields: [
      {
        key: 'payload_version',
        label: 'Payload',
        kind: 'select',
        default: '',
        options: [
          { value: '', label: 'Documented (k6 Cloud keys)' },
          { value: 'extended', label: 'Extended (more fields)' },
        ],
        hint: 'Extended adds run times, duration, result, trigger, names, the summary and a link. Both number status by the status scheme below.',
      },
      {
        key: 'template',
        label: 'Body template (optional)',
        kind: 'textarea',
        placeholder: '{"text": "{{ name }}: {{ status_text }} {{ url }}"}',
        hint: 'Liquid. Variables: the extended payload’s fields (name, status_text, project_name, url, summary, …) and payload (all of them, e.g. {{ payload | json }}). Left empty, the payload above is sent.',
      },
      {
        key: 'content_type',
        label: 'Content type (optional)',
        kind: 'text',
        placeholder: 'application/json',
        hint: 'Only with a template; application/json when empty.',
      },
    ],
  },
  {
    type: 'slack',
    label: 'Slack',
    description: 'A message in a Slack channel through an Incoming WebHook.',
    urlPlaceholder: 'https://hooks.slack.com/services/T000/B000/XXXX',
    urlHint:
      'In Slack, add the Incoming WebHook app, choose a channel and paste the WebHook URL it gives you.',
    mark: '#',
  },
  {
    type: 'hipchat',
    label: 'HipChat',
    description: 'A room notification through a HipChat room integration URL.',
    urlPlaceholder: 'https://example.hipchat.com/v2/room/123/notification?auth_token=…',
    urlHint: 'In HipChat, add a "Build your own integration" to the room and paste its notification URL.',
    mark: 'H',
  },
  {
    type: 'msteams',
    label: 'Microsoft Teams',
    description: 'An Adaptive Card in a Teams channel through a Workflows webhook.',
    urlPlaceholder: 'https://….logic.azure.com/workflows/…/triggers/manual/paths/invoke?…&sig=…',
    urlHint:
      'In Teams, open the channel\'s Workflows, choose "Post to a channel when a webhook request is received" and paste the URL it shows. Office 365 connector URLs no longer work.',
    mark: 'T',
  },
  {
    type: 'discord',
    label: 'Discord',
    description: 'An embed in a Discord channel through a channel webhook.',
    urlPlaceholder: 'https://discord.com/api/webhooks/123456789012345678/…',
    urlHint: 'In Discord, open the channel settings, Integrations, Webhooks, create one and copy its URL.',
    mark: 'D',
  },
  {
    type: 'googlechat',
    label: 'Google Chat',
    description: 'A card in a Google Chat space through an incoming webhook.',
    urlPlaceholder: 'https://chat.googleapis.com/v1/spaces/AAAA…/messages?key=…&token=…',
    urlHint: "In Google Chat, open the space's Apps & integrations, add a webhook and paste its URL.",
    mark: 'G',
  },
  {
    type: 'mattermost',
    label: 'Mattermost',
    description: 'A message in a Mattermost channel through an incoming webhook.',
    urlPlaceholder: 'https://mattermost.example.com/hooks/xxx-generatedkey-xxx',
    urlHint:
      'In Mattermost, go to Integrations, Incoming Webhooks, add one for the channel and paste its URL.',
    mark: 'M',
  },
  {
    type: 'email',
    label: 'E-mail',
    description: 'A mail per run event through your SMTP server; a run’s end threads under its start.',
    url: 'none',
    urlPlaceholder: '',
    urlHint: '',
    mark: '@',
    fields: [
      { key: 'host', label: 'SMTP server', kind: 'text', required: true, placeholder: 'smtp.example.com' },
      {
        key: 'port',
        label: 'Port',
        kind: 'number',
        min: 1,
        max: 65535,
        placeholder: '587',
        hint: 'Left empty: 587. Usually 587 with STARTTLS, 465 with TLS.',
      },
      {
        key: 'security',
        label: 'Security',
        kind: 'select',
        default: 'starttls',
        options: [
          { value: 'starttls', label: 'STARTTLS (required)' },
          { value: 'tls', label: 'TLS from the start (SMTPS)' },
          { value: 'none', label: 'None (plain text)' },
        ],
      },
      { key: 'username', label: 'Username', kind: 'text', hint: 'Left empty: no login.' },
      {
        key: 'password',
        label: 'Password',
        kind: 'secret',
        hint: 'Write-only: never shown again. Left empty when editing: the saved one is kept.',
      },
      { key: 'from', label: 'From', kind: 'text', required: true, placeholder: 'loadnotify@example.com' },
      {
        key: 'to',
        label: 'To',
        kind: 'list',
        required: true,
        placeholder: 'ops@example.com, qa@example.com',
        hint: 'One to 50 addresses, separated by commas or new lines.',
      },
    ],
  },
  {
    type: 'pagerduty',
    label: 'PagerDuty',
    description:
      'An alert per load test through the Events API v2: a failed run triggers it, a later passing run resolves it.',
    url: 'optional',
    urlPlaceholder: 'https://events.pagerduty.com/v2/enqueue',
    urlHint: 'Left empty: PagerDuty’s own endpoint. Set it for an Events API v2 compatible service.',
    mark: 'PD',
    noStarts: true,
    fields: [
      {
        key: 'routing_key',
        label: 'Integration key',
        kind: 'secret',
        required: true,
        hint: 'The 32-character key of an Events API v2 integration on a PagerDuty service. Write-only.',
      },
      {
        key: 'severity',
        label: 'Severity of failures',
        kind: 'select',
        default: 'error',
        options: [
          { value: 'critical', label: 'Critical' },
          { value: 'error', label: 'Error' },
          { value: 'warning', label: 'Warning' },
          { value: 'info', label: 'Info' },
        ],
      },
    ],
  },
];

export function channelTypeInfo(type: string): ChannelTypeInfo {
  return (
    CHANNEL_TYPES.find((t) => t.type === type) ?? {
      type,
      label: type,
      description: '',
      urlPlaceholder: 'https://',
      urlHint: '',
      mark: '•',
    }
  );
}
