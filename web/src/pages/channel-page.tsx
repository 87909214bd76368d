import { useEffect, useState } from 'react';
import { api, errorMessage, type Channel, type ChannelInput, type TestHookResult } from '../api.js';
import { useChannelTypes } from '../channel-types.js';
import { DeleteChannelButton, TestOutcome } from '../components/channel-actions.js';
import { ChannelForm } from '../components/channel-form.js';
import { MutePanel } from '../components/mute-panel.js';
import { NewSigningSecret, SigningPanel } from '../components/signing-secret.js';
import { useFormErrors } from '../components/forms.js';
import { ErrorBanner, Loading, Notice, PageHeader, Time } from '../components/ui.js';
import { usePaged } from '../hooks.js';
import { Link, navigate } from '../router.js';
import { canManage, useOrg } from '../session.js';

const FORM_FIELDS = (f: string) =>
  ['name', 'url', 'status_scheme', 'project_ids'].includes(f) ||
  f.startsWith('events') ||
  f.startsWith('event_types') ||
  f.startsWith('config.');

/**
 * Setup (no id) and edit (id) share this component, so that after "Test Hook" saves a new
 * channel and the address becomes /integrations/:id, the outcome stays on screen.
 */
export function ChannelPage({ id, type }: { id?: number; type?: string }) {
  const org = useOrg();
  const manage = canManage(org.role);
  const [channel, setChannel] = useState<Channel | null>(null);
  const [loading, setLoading] = useState(id !== undefined);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [test, setTest] = useState<TestHookResult | null>(null);
  const [testError, setTestError] = useState<string | null>(null);
  // A signing secret from create or rotate: shown until dismissed or the page is left.
  const [secret, setSecret] = useState<string | null>(null);
  const errors = useFormErrors();
  const catalogue = useChannelTypes();
  const projects = usePaged(`projects:${org.organization_id}`, (c) =>
    api.projects(org.organization_id, c, 500),
  );

  useEffect(() => {
    if (id === undefined) {
      // Back to a setup address (history): start a fresh channel, not the one shown before.
      setChannel(null);
      setSecret(null);
      setLoading(false);
      setSaved(false);
      setTest(null);
      return;
    }
    if (channel?.id === id) return;
    let live = true;
    setLoading(true);
    setSaved(false);
    setTest(null);
    setSecret(null);
    api
      .channel(id)
      .then((c) => live && setChannel(c))
      .catch((e: unknown) => live && setLoadError(errorMessage(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
    // Only a new address reloads; a channel we just saved is already current.
  }, [id, type]);

  const persist = async (input: ChannelInput, dirty: boolean): Promise<Channel | null> => {
    if (channel && !dirty) return channel;
    try {
      const result = channel
        ? await api.updateChannel(channel.id, input)
        : await api.createChannel(org.organization_id, input);
      const { signing_secret: created, ...saved } = result;
      setChannel(saved);
      if (created) setSecret(created);
      errors.clear();
      if (!channel) navigate(`/integrations/${result.id}`, { replace: true });
      return result;
    } catch (err) {
      errors.fail(err, FORM_FIELDS);
      return null;
    }
  };

  const onSave = async (input: ChannelInput) => {
    setBusy(true);
    setSaved(false);
    setTest(null);
    setTestError(null);
    const result = await persist(input, true);
    setSaved(result !== null);
    setBusy(false);
  };

  const onTest = async (input: ChannelInput, dirty: boolean) => {
    setBusy(true);
    setSaved(false);
    setTest(null);
    setTestError(null);
    const wasNew = channel === null;
    const target = await persist(input, dirty);
    if (target) {
      if (wasNew || dirty) setSaved(true);
      try {
        setTest(await api.testChannel(target.id));
      } catch (err) {
        setTestError(errorMessage(err));
      }
    }
    setBusy(false);
  };

  const typeName = channel?.type ?? type ?? 'webhook';
  const info = catalogue.types?.find((t) => t.type === typeName);

  if (loading || (!catalogue.types && !catalogue.error)) return <Loading what="Loading channel" />;
  if (id !== undefined && !channel) {
    return (
      <>
        <PageHeader title="Channel" />
        <ErrorBanner message={loadError ?? 'Channel not found'} />
        <Link to="/integrations">Back to Integrations</Link>
      </>
    );
  }
  if (!info) {
    return (
      <>
        <PageHeader title="Channel" />
        <ErrorBanner
          message={catalogue.error ?? `This server does not deliver to channels of type “${typeName}”.`}
        />
        <Link to="/integrations">Back to Integrations</Link>
      </>
    );
  }
  if (!channel && !manage) {
    return (
      <>
        <PageHeader title={`Set up ${info.label}`} />
        <p>Only owners and admins can set up notification channels.</p>
        <Link to="/integrations">Back to Integrations</Link>
      </>
    );
  }

  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/integrations">Integrations</Link> <span aria-hidden="true">›</span>{' '}
        <span>{channel ? channel.name : `${info.label} setup`}</span>
      </nav>
      <PageHeader
        title={
          !channel
            ? `Set up ${info.label}`
            : // A channel still named after its type ("WebHook") is not called "WebHook: WebHook".
              channel.name === info.label
              ? channel.name
              : `${info.label}: ${channel.name}`
        }
      >
        {channel ? (
          <Link className="btn" to={`/integrations/${channel.id}/deliveries`}>
            Delivery log
          </Link>
        ) : null}
      </PageHeader>
      {channel?.disabled_reason ? (
        <div className="banner banner-error" role="alert">
          <strong>Disabled by loadnotify:</strong> {channel.disabled_reason}
          {manage ? ' Fix the URL or the receiver, then tick “Enabled” and save to turn it back on.' : null}
        </div>
      ) : null}
      {channel?.muted_until ? (
        <div className="banner banner-warning">
          <strong>Muted</strong> until <Time value={channel.muted_until} />: events are logged as skipped, not
          sent. <a href="#mute-heading">Mute settings</a>
        </div>
      ) : null}
      {!channel ? <p className="muted">{info.description}</p> : null}
      {saved ? <Notice tone="success">Saved.</Notice> : null}
      {secret ? <NewSigningSecret secret={secret} onDismiss={() => setSecret(null)} /> : null}
      <ChannelForm
        info={info}
        organizationId={org.organization_id}
        channel={channel}
        projects={projects.items}
        readOnly={!manage}
        busy={busy}
        fieldErrors={errors.fields}
        generalError={errors.general}
        onSave={(input) => void onSave(input)}
        onTest={(input, dirty) => void onTest(input, dirty)}
        extraActions={
          channel && manage ? (
            <DeleteChannelButton channel={channel} onDeleted={() => navigate('/integrations')} />
          ) : null
        }
        status={<TestOutcome result={test} error={testError} />}
      />
      {channel ? <MutePanel channel={channel} manage={manage} onChanged={setChannel} /> : null}
      {channel && info.signing && channel.signing ? (
        <SigningPanel
          channel={channel}
          manage={manage}
          onRotated={(value, signing) => {
            setSecret(value);
            setChannel({ ...channel, signing });
          }}
          onChanged={(signing) => setChannel({ ...channel, signing })}
        />
      ) : null}
    </>
  );
}
