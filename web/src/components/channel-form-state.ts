/**
 * The channel form's state: what the person has typed, whether it differs from the saved
 * channel, the request it makes, and the form's own checks. Everything about the type comes
 * from its catalogue entry (`ChannelTypeInfo`), so the form has no per-type code.
 */
import { useEffect, useMemo, useState } from 'react';
import type { Channel, ChannelEvents, ChannelInput, StatusScheme } from '../api.js';
import type { ChannelTypeInfo } from '../channel-types.js';
import { configInput, initialConfig, missingConfig, type ConfigFormValues } from './config-fields.js';

export interface FormState {
  name: string;
  url: string;
  enabled: boolean;
  status_scheme: StatusScheme;
  allProjects: boolean;
  project_ids: number[];
  events: ChannelEvents;
  config: ConfigFormValues;
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
      config: initialConfig(info.fields, null),
    };
  }
  return {
    name: channel.name,
    url: channel.url,
    enabled: channel.enabled,
    status_scheme: channel.status_scheme,
    allProjects: channel.project_ids === null,
    project_ids: channel.project_ids ?? [],
    events: structuredClone(channel.events),
    config: initialConfig(info.fields, channel),
  };
}

/**
 * The request body: the URL only when the user typed one (the saved one is redacted), and
 * the settings as configInput picks them.
 */
export function toInput(info: ChannelTypeInfo, channel: Channel | null, s: FormState): ChannelInput {
  const input: ChannelInput = {
    name: s.name.trim(),
    enabled: s.enabled,
    status_scheme: s.status_scheme,
    project_ids: s.allProjects ? null : s.project_ids,
    events: s.events,
  };
  const config = configInput(info.fields, channel, s.config);
  if (config) input.config = config;
  if (!channel) input.type = info.type;
  const url = s.url.trim();
  if (info.url.mode !== 'none' && url !== '' && url !== channel?.url) input.url = url;
  return input;
}

/** The form's own checks before anything is sent, keyed like the API's fields. */
export function formProblems(info: ChannelTypeInfo, channel: Channel | null, s: FormState) {
  const e: Record<string, string> = {};
  if (!channel && info.url.mode === 'required' && !s.url.trim())
    e.url = 'Paste the URL to send notifications to.';
  Object.assign(e, missingConfig(info.fields, channel, s.config));
  if (!s.name.trim()) e.name = 'Name is required.';
  if (!s.allProjects && s.project_ids.length === 0)
    e.project_ids = 'Choose at least one project, or all projects.';
  return e;
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
  const errors = { ...serverErrors, ...localErrors };

  const set = <K extends keyof FormState>(k: K, v: FormState[K]) => setS((old) => ({ ...old, [k]: v }));
  const setConfig = (key: string, value: string | boolean) =>
    setS((old) => ({ ...old, config: { ...old.config, [key]: value } }));
  const setEvent = <K extends keyof ChannelEvents>(event: K, v: EventChange<K>) =>
    setS((old) => ({ ...old, events: { ...old.events, [event]: { ...old.events[event], ...v } } }));

  /** Runs the form's checks; true when the input may be sent. */
  const check = (): boolean => {
    const e = formProblems(info, channel, s);
    setLocalErrors(e);
    return Object.keys(e).length === 0;
  };

  const input = useMemo(() => toInput(info, channel, s), [info, channel, s]);
  return { s, set, setConfig, setEvent, dirty, errors, check, input };
}

export type ChannelFormState = ReturnType<typeof useChannelFormState>;
