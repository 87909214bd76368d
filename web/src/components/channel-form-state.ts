/**
 * The channel form's state: what the person has typed, whether it differs from the saved
 * channel, the request it makes, and the form's own checks. Everything about the type comes
 * from its catalogue entry (`ChannelTypeInfo`), so the form has no per-type code.
 */
import { useEffect, useMemo, useState } from 'react';
import type { Channel, ChannelEvents, ChannelInput, StatusScheme } from '../api.js';
import type { ChannelTypeInfo } from '../channel-types.js';
import { configInput, initialConfig, configProblems, type ConfigFormValues } from './config-fields.js';
import { splitRedacted } from './redacted-url.js';

export interface FormState {
  name: string;
  url: string;
  enabled: boolean;
  status_scheme: StatusScheme;
  allProjects: boolean;
  project_ids: number[];
  events: ChannelEvents;
  /** k6 Cloud's identifiers the channel picks runs by, or null: by `events`. */
  eventTypes: string[] | null;
  config: ConfigFormValues;
}

/**
 * The saved URL as the URL field shows it: redacted as `scheme://host/…` (the marker beside the
 * field says the rest is hidden), not the API's stars that read like part of the path.
 */
export function savedUrl(channel: Channel): string {
  return splitRedacted(channel.url)?.shown ?? channel.url;
}

export function initialState(info: ChannelTypeInfo, channel: Channel | null): FormState {
  if (!channel) {
    return {
      name: info.label,
      url: '',
      enabled: true,
      status_scheme: 'k6',
      allProjects: true,
      project_ids: [],
      events: structuredClone(info.default_events) as ChannelEvents,
      eventTypes: null,
      config: initialConfig(info.fields, null),
    };
  }
  return {
    name: channel.name,
    url: savedUrl(channel),
    enabled: channel.enabled,
    status_scheme: channel.status_scheme,
    allProjects: channel.project_ids === null,
    project_ids: channel.project_ids ?? [],
    events: structuredClone(channel.events),
    eventTypes: channel.event_types ? [...channel.event_types] : null,
    config: initialConfig(info.fields, channel),
  };
}

/**
 * The request body: the URL only when the user typed one (the saved one is shown redacted and
 * an untouched field keeps it), and
 * the settings as configInput picks them.
 */
export function toInput(info: ChannelTypeInfo, channel: Channel | null, s: FormState): ChannelInput {
  const input: ChannelInput = {
    name: s.name.trim(),
    enabled: s.enabled,
    status_scheme: s.status_scheme,
    project_ids: s.allProjects ? null : s.project_ids,
  };
  // One of the two ways to pick runs; leaving identifiers for `events` says so with null.
  if (s.eventTypes !== null) input.event_types = s.eventTypes;
  else {
    input.events = s.events;
    if (channel?.event_types) input.event_types = null;
  }
  const config = configInput(info.fields, channel, s.config);
  if (config) input.config = config;
  if (!channel) input.type = info.type;
  const url = s.url.trim();
  if (info.url.mode !== 'none' && url !== '' && (!channel || url !== savedUrl(channel))) input.url = url;
  return input;
}

/** The form's own checks before anything is sent, keyed like the API's fields. */
export function formProblems(info: ChannelTypeInfo, channel: Channel | null, s: FormState) {
  const e: Record<string, string> = {};
  if (!channel && info.url.mode === 'required' && !s.url.trim())
    e.url = 'Paste the URL to send notifications to.';
  Object.assign(e, configProblems(info.fields, channel, s.config));
  if (!s.name.trim()) e.name = "The name can't be empty.";
  if (!s.allProjects && s.project_ids.length === 0)
    e.project_ids = 'Choose at least one project, or all projects.';
  if (s.eventTypes !== null && s.eventTypes.length === 0)
    e.event_types = 'Choose at least one notification event.';
  return e;
}

/** The API field a part of the state is sent as, where the names differ. */
const STATE_FIELD: Partial<Record<keyof FormState, string>> = {
  allProjects: 'project_ids',
  eventTypes: 'event_types',
};

/**
 * An error as shown under its field: the field's name is the label right above it, so a
 * message the API starts with it (`url: not an absolute URL`) loses it.
 */
export function inlineMessage(field: string, message: string): string {
  if (!message.startsWith(field)) return message;
  const rest = message.slice(field.length);
  const match = /^(?::\s*|\s+)(\S[\s\S]*)$/.exec(rest);
  if (!match) return message;
  return match[1]!.charAt(0).toUpperCase() + match[1]!.slice(1);
}

export type EventChange<K extends keyof ChannelEvents> = Partial<ChannelEvents[K]>;

export function useChannelFormState(
  info: ChannelTypeInfo,
  channel: Channel | null,
  serverErrors: Record<string, string>,
) {
  const [s, setS] = useState<FormState>(() => initialState(info, channel));
  // A saved channel comes back from the server (URL redacted): start again from it.
  useEffect(() => setS(initialState(info, channel)), [info, channel]);
  const initial = useMemo(() => JSON.stringify(initialState(info, channel)), [info, channel]);
  const dirty = JSON.stringify(s) !== initial;

  const [localErrors, setLocalErrors] = useState<Record<string, string>>({});
  // Fields changed since the server's errors came: their errors no longer say anything.
  const [changed, setChanged] = useState<ReadonlySet<string>>(new Set());
  useEffect(() => setChanged(new Set()), [serverErrors]);
  const errors: Record<string, string> = {};
  for (const [field, message] of Object.entries({ ...serverErrors, ...localErrors }))
    if (!changed.has(field)) errors[field] = inlineMessage(field, message);

  /** A change to a field takes its errors away (keys as the API names the fields). */
  const changedFields = (fields: (field: string) => boolean) => {
    const touched = Object.keys({ ...serverErrors, ...localErrors }).filter(fields);
    if (touched.length === 0) return;
    setChanged((old) => new Set([...old, ...touched]));
    setLocalErrors((old) => Object.fromEntries(Object.entries(old).filter(([k]) => !fields(k))));
  };
  const set = <K extends keyof FormState>(k: K, v: FormState[K]) => {
    setS((old) => ({ ...old, [k]: v }));
    const field = STATE_FIELD[k] ?? k;
    changedFields((f) => f === field || (field === 'url' && f === 'config'));
  };
  const setConfig = (key: string, value: string | boolean) => {
    setS((old) => ({ ...old, config: { ...old.config, [key]: value } }));
    // `config` alone: the address an e-mail channel's settings make.
    changedFields((f) => f === `config.${key}` || f === 'config');
  };
  /** Several settings at once (a starter template's keys). */
  const setConfigs = (values: Record<string, string>) => {
    setS((old) => ({ ...old, config: { ...old.config, ...values } }));
    changedFields((f) => Object.keys(values).some((key) => f === `config.${key}`));
  };
  const setEvent = <K extends keyof ChannelEvents>(event: K, v: EventChange<K>) => {
    setS((old) => ({ ...old, events: { ...old.events, [event]: { ...old.events[event], ...v } } }));
    changedFields((f) => f.startsWith('events'));
  };

  /** Runs the form's checks; true when the input may be sent. */
  const check = (): boolean => {
    const e = formProblems(info, channel, s);
    setLocalErrors(e);
    return Object.keys(e).length === 0;
  };

  const input = useMemo(() => toInput(info, channel, s), [info, channel, s]);
  return { s, set, setConfig, setConfigs, setEvent, dirty, errors, check, input };
}

export type ChannelFormState = ReturnType<typeof useChannelFormState>;
