/**
 * What a team coming from k6 Cloud looks for in the channel form: its "Notification event"
 * identifiers (several may be picked), its starter templates, and its custom e-mail's
 * recipients picked from the organization's members or typed.
 */
import { useId, useState } from 'react';
import { api, type Member, type Starter } from '../api.js';
import { useResource } from '../hooks.js';
import { K6CLOUD_EVENT_TEXT, K6CLOUD_EVENT_TYPES } from '../../../src/core/k6cloud-events.js';
import type { ChannelTypeInfo } from '../channel-types.js';
import type { ChannelFormState } from './channel-form-state.js';
import { offeredValue } from './config-fields.js';
import { FieldError } from './ui.js';

interface PartProps {
  form: ChannelFormState;
  readOnly: boolean;
}

/**
 * How runs are picked: by the event, trigger, status and result fieldsets (`events`), or by
 * k6 Cloud's identifiers (`event_types`), as its dropdown offered them.
 */
export function EventTypesFieldset({ form, info }: PartProps & { info: ChannelTypeInfo }) {
  const { s, set, errors } = form;
  const id = useId();
  // Types that refuse an event (PagerDuty is not paged on starts) are not offered its identifiers.
  const offered = K6CLOUD_EVENT_TYPES.filter(
    (t) => !info.refused_events.some((refused) => t.startsWith(`${refused}.`)),
  );
  const chosen = s.eventTypes ?? [];
  return (
    <fieldset className="group" aria-invalid={errors.event_types ? true : undefined}>
      <legend>Which runs notify</legend>
      <label className="check">
        <input
          type="radio"
          name={`${id}-mode`}
          checked={s.eventTypes === null}
          onChange={() => set('eventTypes', null)}
        />{' '}
        By event, trigger, status and result (below)
      </label>
      <label className="check">
        <input
          type="radio"
          name={`${id}-mode`}
          checked={s.eventTypes !== null}
          onChange={() => set('eventTypes', s.eventTypes ?? [])}
        />{' '}
        By k6 Cloud notification event
      </label>
      {s.eventTypes !== null ? (
        <fieldset className="checks" aria-describedby={`${id}-hint`}>
          <legend>Notification events</legend>
          <p className="hint" id={`${id}-hint`}>
            Tick one or more, as in k6 Cloud. A run still notifies at most twice (start and end); a template
            sees the first ticked one that matched as <code>event.type</code>.
          </p>
          <div className="check-row event-types">
            {offered.map((t) => (
              <label key={t} className="check">
                <input
                  type="checkbox"
                  checked={chosen.includes(t)}
                  onChange={(e) =>
                    set(
                      'eventTypes',
                      e.target.checked
                        ? offered.filter((o) => o === t || chosen.includes(o))
                        : chosen.filter((o) => o !== t),
                    )
                  }
                />{' '}
                <span>
                  {K6CLOUD_EVENT_TEXT[t]} <code className="muted">{t}</code>
                </span>
              </label>
            ))}
          </div>
        </fieldset>
      ) : null}
      <FieldError message={errors.event_types} />
    </fieldset>
  );
}

let starters: Promise<Starter[]> | null = null;
/** Read once per page load, like the channel catalogue: they describe the server. */
function loadStarters(): Promise<Starter[]> {
  starters ??= api.templateStarters().then(
    (r) => r.items,
    (err: unknown) => {
      starters = null;
      throw err;
    },
  );
  return starters;
}

/** k6 Cloud's starter templates for this type: choosing one fills in its template fields. */
export function StarterPicker({ form, readOnly, info }: PartProps & { info: ChannelTypeInfo }) {
  const id = useId();
  const all = useResource('template-starters', loadStarters);
  const mine = (all.data ?? []).filter((st) => st.channel_type === info.type);
  const [choice, setChoice] = useState('');
  const [used, setUsed] = useState<string | null>(null);
  if (readOnly || mine.length === 0) return null;
  const picked = mine.find((st) => st.id === choice) ?? mine[0]!;
  const fields = Object.keys(picked.config)
    .map((key) => info.fields.find((f) => f.key === key)?.label ?? key)
    .join(', ');
  return (
    <div className="field starter">
      <label htmlFor={`${id}-starter`}>Starter template</label>
      <div className="inline-controls">
        <select id={`${id}-starter`} value={picked.id} onChange={(e) => setChoice(e.target.value)}>
          {mine.map((st) => (
            <option key={st.id} value={st.id}>
              {st.name}
            </option>
          ))}
        </select>{' '}
        <button
          type="button"
          className="btn btn-small"
          aria-describedby={`${id}-starter-hint`}
          onClick={() => {
            form.setConfigs(
              Object.fromEntries(
                Object.entries(picked.config).map(([key, value]) => {
                  const field = info.fields.find((f) => f.key === key);
                  return [key, field ? offeredValue(field, value) : value];
                }),
              ),
            );
            setUsed(picked.name);
          }}
        >
          Use starter
        </button>
      </div>
      <p className="hint" id={`${id}-starter-hint`}>
        {picked.description} Replaces: {fields}.
      </p>
      {used ? (
        <p className="hint" role="status">
          {used} filled in below; the preview shows what it sends.
        </p>
      ) : null}
    </div>
  );
}

/** Every member (a page of 500 at most is one request; larger organizations page on). */
async function allMembers(orgId: number): Promise<Member[]> {
  const out: Member[] = [];
  let cursor: string | null = null;
  do {
    const page = await api.members(orgId, cursor, 500);
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && out.length < 5000);
  return out;
}

const splitList = (text: string) =>
  text
    .split(/[,\n]/)
    .map((a) => a.trim())
    .filter(Boolean);

/**
 * k6 Cloud's custom e-mail picked recipients from the organization's members: ticking one
 * adds its address to the To field (where others can still be typed), unticking takes it out.
 * The list is the members API's, which only the organization's members may read.
 */
export function MemberRecipients({ form, readOnly, organizationId }: PartProps & { organizationId: number }) {
  const id = useId();
  const members = useResource(`members:${organizationId}`, () => allMembers(organizationId));
  const to = String(form.s.config.to ?? '');
  const addresses = splitList(to);
  const has = (email: string) => addresses.some((a) => a.toLowerCase() === email.toLowerCase());
  const toggle = (email: string, on: boolean) => {
    const next = on
      ? [...addresses, email]
      : addresses.filter((a) => a.toLowerCase() !== email.toLowerCase());
    form.setConfig('to', next.join(', '));
  };
  if (members.error) return <p className="muted">Members could not be listed: {members.error}</p>;
  if (!members.data || members.data.length === 0) return null;
  return (
    <fieldset className="checks recipients" disabled={readOnly} aria-describedby={`${id}-hint`}>
      <legend>Recipients from your organization</legend>
      <p className="hint" id={`${id}-hint`}>
        Ticking a member adds their address to To; other addresses can be typed there.
      </p>
      <div className="check-row">
        {members.data.map((m) => (
          <label key={m.user_id} className="check">
            <input
              type="checkbox"
              checked={has(m.email)}
              onChange={(e) => toggle(m.email, e.target.checked)}
            />{' '}
            {m.email}
          </label>
        ))}
      </div>
    </fieldset>
  );
}
