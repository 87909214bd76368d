import type { TObject } from 'typebox';
import type { EventData, StoredEvent } from '../core/events.js';
import type { ChannelEvents } from '../core/filters.js';
import type { K6CloudEventType } from '../core/k6cloud-events.js';
import type { StatusScheme } from '../core/run-status.js';
import type { TemplateEngine } from './template-limits.js';

/**
 * A channel as the delivery path sees it: the URL decrypted, the type-specific config parsed
 * with its secret fields opened.
 */
export interface ChannelForDelivery {
  id: number;
  organization_id: number;
  type: string;
  name: string;
  url: string;
  status_scheme: StatusScheme;
  config: Record<string, unknown>;
  /**
   * Standard Webhooks signing secrets (`whsec_...`), newest first, each with the time (epoch
   * ms) it stops signing, or null for the current one. Absent or empty: unsigned.
   */
  signing_secrets?: readonly SigningSecret[];
  /** k6 Cloud's identifiers the channel was given (they name `event.type`); null: `events` decides. */
  event_types?: readonly K6CloudEventType[] | null;
}

export interface SigningSecret {
  secret: string;
  expires_at: number | null;
}

export interface RenderContext {
  /** Stable for every attempt and redelivery of one event to one channel (Standard Webhooks). */
  webhookId: string;
  /** Fresh for every attempt: the documents' X-LoadImpact-ID. */
  requestId: string;
  /** Base URL for links to runs in the web app, without a trailing slash. */
  publicUrl: string;
  now: Date;
  /**
   * The output of the type's `template` job, rendered beforehand in a template worker (see
   * renderChannel in src/delivery/template-pool.ts): a user's template never runs on the
   * service's thread.
   */
  templateOutput?: string;
  /** The outputs of the type's `templates` jobs, by the same names, rendered the same way. */
  templateOutputs?: Record<string, string>;
  /**
   * What the channel remembered under the type's `stateKey` for this event, or null when it
   * has nothing there (or the type keeps nothing).
   */
  remembered?: string | null;
}

/** One request of a notification made of several, and the answer it got. */
export interface Exchange {
  request: Rendered;
  response: ReceiverResponse;
}

/**
 * What a notification of several requests does after an answer: send another request, or end
 * with the verdict on the whole notification and, for a type with a `stateKey`, what to
 * remember under it (a string; null forgets it; left out keeps what was there).
 */
export type NextStep = { request: Rendered } | { end: Classification; remember?: string | null };

/** A user's template and its variables, for a template worker to render. */
export interface TemplateJob {
  source: string;
  scope: Record<string, unknown>;
  /** The template's language; Liquid when left out. */
  engine?: TemplateEngine;
  /** The output is HTML: what the template puts out is HTML-escaped (renderTemplate). */
  html?: boolean;
  /** With `html`: the plain text a person reads of the rendered HTML instead (an e-mail's text part). */
  text?: boolean;
}

/** A template a channel's settings hold, checked in a template worker when they are saved. */
export interface TemplateSource {
  /** Where it is, as error messages name it (`config.template`). */
  field: string;
  source: string;
  engine?: TemplateEngine;
}

/**
 * The HTTP methods a channel type may send: POST for nearly all; PATCH and PUT for types that
 * change what an earlier request created (a Grafana annotation closed at a run's end, a
 * pull-request comment edited in place).
 */
export type HttpMethod = 'POST' | 'PUT' | 'PATCH';

/** An HTTP request. `kind` may be left out: HTTP is what most channel types send. */
export interface RenderedRequest {
  kind?: 'http';
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export type MailSecurity = 'starttls' | 'tls' | 'none';

/**
 * An e-mail for the SMTP sender. `headers` and `body` are what the attempt log keeps, as for
 * HTTP: the message's header fields as sent and its plain-text part.
 */
export interface RenderedMail {
  kind: 'mail';
  /**
   * No HTTP method; declared so code reading `render(...).method` of an HTTP type still
   * type-checks against the union.
   */
  method?: undefined;
  /** `smtp://host:port` or `smtps://host:port`: the server dialled, through the egress guard. */
  url: string;
  /** From, To, Subject, Date, Message-ID, In-Reply-To, References, Auto-Submitted, ... */
  headers: Record<string, string>;
  /** The plain-text part. */
  body: string;
  /** The HTML part. */
  html: string;
  envelope: { from: string; to: string[] };
  security: MailSecurity;
  /** Never logged. */
  auth: { user: string; pass: string } | null;
}

/** What a channel type renders: the senders route on `kind`. */
export type Rendered = RenderedRequest | RenderedMail;

/** An HTTP answer, or an SMTP one: the reply code as `status`, the reply text as `body`. */
export interface ReceiverResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * What an answer means. `retry.afterMs` carries the receiver's own wish (Retry-After,
 * Discord's retry_after); the engine's backoff applies when it is absent.
 */
export type Classification =
  | { kind: 'delivered' }
  | { kind: 'retry'; reason: string; afterMs?: number }
  | { kind: 'permanent'; reason: string };

/** A problem with a channel's settings, naming the field as the API spells it (`config.to`). */
export interface ConfigProblem {
  field: string;
  message: string;
}

/** The channel's settings outside `config` that a type's check may compare with. */
export interface ConfigContext {
  status_scheme: StatusScheme;
  /** What the operator allowed; left out, nothing beyond the defaults is. */
  policy?: ChannelPolicy;
}

/** Operator settings (environment) that change what a channel may be saved with. */
export interface ChannelPolicy {
  /** LOADNOTIFY_SMTP_PLAINTEXT_AUTH_LOOPBACK: an SMTP login without TLS to a loopback server. */
  smtpPlaintextAuthLoopback: boolean;
}

/**
 * A type's own settings: the API's `config` object. The schema is checked strictly at save
 * time (unknown keys refused, defaults filled). Secret keys are write-only: sealed at rest
 * with the URL's key, never shown, kept when a PATCH leaves them out.
 */
export interface ChannelConfigSpec {
  schema: TObject;
  /**
   * How forms show each key of the schema (GET /api/v1/channel-types): one entry per key, in
   * the schema's order. The field's kind, whether it is required, its default and its limits
   * come from the schema and the lists below.
   */
  fields: Readonly<Record<string, ConfigFieldText>>;
  secret?: readonly string[];
  /**
   * Keys that, with the URL, say where the channel sends (an SMTP server's host, port and
   * security). A change to any of them, or to the URL, is a new destination.
   */
  destination?: readonly string[];
  /**
   * Keys the destination gets to authenticate us: they belong to the destination they were
   * saved for, so a request that changes it must give them again or remove them (API.md,
   * "secrets follow their destination"). `secret` when left out; e-mail adds its username,
   * which is shown but is half of the login.
   */
  credentials?: readonly string[];
  /**
   * Values made from the secret settings that go out as they are made (an HTTP Basic
   * Authorization header): the attempt log hides them like the secrets themselves.
   */
  derivedSecrets?(config: Record<string, unknown>): string[];
  /**
   * Checks the schema cannot express, with the channel's other settings the config may have
   * to agree with.
   */
  check?(config: Record<string, unknown>, channel: ConfigContext): ConfigProblem | null;
  /** The templates the config holds: each must parse (checked in a template worker on save). */
  templates?(config: Record<string, unknown>): TemplateSource[];
}

/** A config key's words in a form: the rest of the field is read from the schema. */
export interface ConfigFieldText {
  label: string;
  hint?: string;
  placeholder?: string;
  /** Multi-line text (a template) rather than one line. */
  multiline?: boolean;
  /**
   * The choices a form offers, with their words, when they differ from the schema's literals
   * (`''` for "leave it out"); otherwise each literal is offered under its own name.
   */
  options?: readonly { value: string; label: string }[];
  /**
   * An option most channels leave as it is (a template, extra headers): forms fold it under
   * "More settings", open when it holds a value or an error.
   */
  more?: boolean;
}

export interface ChannelType {
  type: string;
  /** A person-readable label for the UI and messages. */
  label: string;
  /** One sentence for the Integrations page: what a notification of this type is. */
  description: string;
  /** A short glyph for the type's card in the web app; decorative. */
  mark: string;
  /**
   * What the URL field shows: an example and where the person finds the URL. Left out for
   * types addressed by their settings (`urlFromConfig`).
   */
  urlHelp?: { placeholder: string; hint: string };
  /** Settings beyond the URL; a type without them takes an empty `config`. */
  config?: ChannelConfigSpec;
  /**
   * Where the channel's address comes from. `url` (the default): the API's `url` field,
   * required unless `defaultUrl` is set. `config`: derived from the settings by `urlFromConfig`
   * (an SMTP server's host and port), and the API refuses a `url`.
   */
  defaultUrl?: string;
  urlFromConfig?(config: Record<string, unknown>): string;
  /**
   * The type signs its requests per Standard Webhooks: new channels get a signing secret,
   * shown once, and the API can rotate or remove it. Render finds it in `signing_secrets`.
   */
  signing?: boolean;
  /**
   * What it sends numbers the run's status by the channel's `status_scheme` (the documents'
   * payloads, and templates' variables). Other types send words and ignore the setting: the
   * web app's form leaves it out for them.
   */
  numbersStatuses?: boolean;
  /** Events a new channel of this type hears, when they differ from every type's default. */
  defaultEvents?: ChannelEvents;
  /** Event choices the type cannot serve (PagerDuty is not paged on starts), naming the field. */
  checkEvents?(events: ChannelEvents): ConfigProblem | null;
  /** Returns an error message when the URL cannot be this channel's URL, else null. */
  checkUrl(url: URL): string | null;
  /**
   * The template this channel's request is made from, or null when it has none. Whoever
   * renders a channel of such a type renders the job in the template pool first and passes
   * its output to `render` as `ctx.templateOutput`; channels without a template skip the hop.
   */
  template?(event: StoredEvent, channel: ChannelForDelivery, ctx: RenderContext): TemplateJob | null;
  /**
   * For a type made from several templates (an e-mail's subject and HTML): the jobs by name,
   * or null when it has none. Rendered like `template`, passed as `ctx.templateOutputs`.
   */
  templates?(
    event: StoredEvent,
    channel: ChannelForDelivery,
    ctx: RenderContext,
  ): Record<string, TemplateJob> | null;
  render(event: StoredEvent, channel: ChannelForDelivery, ctx: RenderContext): Rendered;
  classify(response: ReceiverResponse): Classification;
  /**
   * Why this event cannot be sent to this channel at all (a commit status for a run that names
   * no commit, or a repository outside the channel's), or null; `config` is the channel's
   * settings without its secrets. Such a delivery is written skipped with the reason, as a
   * muted channel's are: it is not sent, not retried, and does not count against the channel.
   */
  skip?(data: EventData, config: Record<string, unknown>): string | null;
  /**
   * The key under which a channel of this type remembers something for this event between
   * notifications (Grafana: the annotation its run's start created, for the end to close;
   * GitHub: the pull-request comment it edits in place), or null. The delivery path reads the
   * value before rendering (`ctx.remembered`) and writes what `next` returns with the
   * delivery's outcome, in the same transaction.
   */
  stateKey?(event: StoredEvent, channel: ChannelForDelivery): string | null;
  /**
   * A notification of several requests. After `render`'s request is answered, and after each
   * later one, the next request or the end (see NextStep). Every request goes through the same
   * sender and egress guard, at most MAX_EXCHANGES in all; the attempt log keeps the last
   * request and its answer, and the steps before it in the error when it fails. A connection
   * failure or refusal on any step ends the attempt as it would a single request (retried or
   * failed), so a step must be safe to send again. Left out: one request, judged by `classify`.
   */
  next?(
    event: StoredEvent,
    channel: ChannelForDelivery,
    ctx: RenderContext,
    answered: readonly Exchange[],
  ): NextStep;
}

/** The most requests one notification may take (ChannelType.next). */
export const MAX_EXCHANGES = 5;
