import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import type { Channel, ChannelInput, Project } from '../api.js';
import type { ChannelTypeInfo } from '../channel-types.js';
import {
  DestinationFields,
  EventFieldsets,
  GeneralFields,
  NameField,
  ProjectsFieldset,
} from './channel-fieldsets.js';
import { useChannelFormState } from './channel-form-state.js';
import { ChannelPreviewPanel } from './channel-preview.js';
import { EventTypesFieldset, MemberRecipients, StarterPicker } from './k6cloud-fields.js';
import { ErrorBanner } from './ui.js';

export interface ChannelFormProps {
  /** The type's entry in the server's channel catalogue. */
  info: ChannelTypeInfo;
  organizationId: number;
  channel: Channel | null;
  projects: Project[];
  readOnly: boolean;
  busy: boolean;
  fieldErrors: Record<string, string>;
  generalError: string | null;
  onSave(input: ChannelInput, dirty: boolean): void;
  onTest(input: ChannelInput, dirty: boolean): void;
  /** Rendered under the buttons: the Test Hook outcome, "Saved", ... */
  status?: ReactNode;
  extraActions?: ReactNode;
}

/**
 * After a failed save: focus the first field marked invalid (in a group, its first control),
 * wherever it is on the page; with none, bring the form's error banner into view.
 */
function showFirstProblem(form: HTMLFormElement | null): void {
  const invalid = form?.querySelector<HTMLElement>('[aria-invalid="true"]');
  const control = invalid?.matches('input, select, textarea')
    ? invalid
    : invalid?.querySelector<HTMLElement>('input, select, textarea');
  if (control) {
    control.focus({ preventScroll: true });
    control.scrollIntoView({ block: 'center' });
  } else {
    form?.querySelector('[role="alert"]')?.scrollIntoView({ block: 'center' });
  }
}

/** The settings a starter template fills in, on the types that have them. */
const STARTER_KEYS = ['template_engine', 'template', 'subject_template', 'html_template'];

export function ChannelForm(props: ChannelFormProps) {
  const { info, channel, readOnly, busy, fieldErrors, generalError } = props;
  const form = useChannelFormState(info, channel, fieldErrors);
  const parts = { form, readOnly };
  // Starters fill in the type's template settings: offered right above the first of them.
  const starterAt = info.fields.find((f) => STARTER_KEYS.includes(f.key))?.key;
  const ref = useRef<HTMLFormElement>(null);
  // Bumped when the form's own check fails; the server's errors arrive as new props.
  const [failedCheck, setFailedCheck] = useState(0);
  useEffect(() => {
    if (failedCheck > 0) showFirstProblem(ref.current);
  }, [failedCheck]);
  useEffect(() => {
    if (generalError || Object.keys(fieldErrors).length > 0) showFirstProblem(ref.current);
  }, [fieldErrors, generalError]);

  const checked = (): boolean => {
    if (form.check()) return true;
    setFailedCheck((n) => n + 1);
    return false;
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (readOnly || !checked()) return;
    props.onSave(form.input, form.dirty);
  };
  const test = () => {
    if (!checked()) return;
    props.onTest(form.input, form.dirty);
  };

  return (
    <div className={readOnly ? undefined : 'channel-layout'}>
      <form
        ref={ref}
        className="card channel-form"
        onSubmit={submit}
        noValidate
        aria-label={`${info.label} settings`}
      >
        <ErrorBanner message={generalError} />
        <fieldset className="plain" disabled={readOnly}>
          <legend className="visually-hidden">{info.label} settings</legend>
          <NameField {...parts} />
          <DestinationFields
            {...parts}
            info={info}
            channel={channel}
            before={starterAt ? { [starterAt]: <StarterPicker {...parts} info={info} /> } : {}}
            after={
              info.type === 'email'
                ? { to: <MemberRecipients {...parts} organizationId={props.organizationId} /> }
                : {}
            }
          />
          <GeneralFields {...parts} info={info} />
          <ProjectsFieldset {...parts} projects={props.projects} />
          <EventTypesFieldset {...parts} info={info} />
          {form.s.eventTypes === null ? <EventFieldsets {...parts} info={info} /> : null}
        </fieldset>

        {readOnly ? (
          <p className="muted">Only owners and admins can change notification channels.</p>
        ) : (
          <div className="actions">
            <button type="submit" className="btn btn-primary" disabled={busy}>
              Save Changes
            </button>
            <button
              type="button"
              className="btn"
              onClick={test}
              disabled={busy}
              aria-describedby="test-hook-hint"
            >
              Test Hook
            </button>
            {props.extraActions}
            <p className="hint" id="test-hook-hint">
              Test Hook (k6 Cloud’s “Send test event”) sends a <code>test.notification_channel</code> event
              {!channel || form.dirty ? ' after saving your changes' : ''}; a template is filled with mock
              values in every field.
            </p>
          </div>
        )}
        {props.status}
      </form>
      {readOnly ? null : (
        <ChannelPreviewPanel
          organizationId={props.organizationId}
          channelId={channel?.id ?? null}
          input={form.input}
        />
      )}
    </div>
  );
}
