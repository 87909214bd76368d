import type { FormEvent, ReactNode } from 'react';
import type { Channel, ChannelInput, Project } from '../api.js';
import type { ChannelTypeInfo } from '../channel-types.js';
import { DestinationFields, EventFieldsets, GeneralFields, ProjectsFieldset } from './channel-fieldsets.js';
import { useChannelFormState } from './channel-form-state.js';
import { ChannelPreviewPanel } from './channel-preview.js';
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

export function ChannelForm(props: ChannelFormProps) {
  const { info, channel, readOnly, busy } = props;
  const form = useChannelFormState(info, channel, props.fieldErrors);
  const parts = { form, readOnly };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (readOnly || !form.check()) return;
    props.onSave(form.input, form.dirty);
  };
  const test = () => {
    if (!form.check()) return;
    props.onTest(form.input, form.dirty);
  };

  return (
    <div className={readOnly ? undefined : 'channel-layout'}>
      <form className="card channel-form" onSubmit={submit} noValidate aria-label={`${info.label} settings`}>
        <ErrorBanner message={props.generalError} />
        <fieldset className="plain" disabled={readOnly}>
          <legend className="visually-hidden">{info.label} settings</legend>
          <DestinationFields {...parts} info={info} channel={channel} />
          <GeneralFields {...parts} />
          <ProjectsFieldset {...parts} projects={props.projects} />
          <EventFieldsets {...parts} info={info} />
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
              Test Hook sends a <code>test.notification_channel</code> event
              {!channel || form.dirty ? ' after saving your changes' : ''}.
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
