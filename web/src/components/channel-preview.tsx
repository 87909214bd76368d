/**
 * The request a channel would send for a sample run, rendered by the server from the form's
 * current settings (nothing is saved or sent). It refreshes a moment after the person stops
 * typing, and shows the server's validation message when the settings are not complete yet.
 */
import { useEffect, useState } from 'react';
import {
  api,
  ApiError,
  errorMessage,
  type ChannelInput,
  type ChannelPreview,
  type PreviewEvent,
} from '../api.js';
import { RedactedUrl } from './redacted-url.js';

const EVENTS: readonly { value: PreviewEvent; label: string }[] = [
  { value: 'test.finished', label: 'Test finished' },
  { value: 'test.started', label: 'Test started' },
  { value: 'test.notification_channel', label: 'Test Hook' },
];
const DEBOUNCE_MS = 400;

function pretty(body: string, contentType: string | undefined): string {
  if (!contentType?.includes('json')) return body;
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/**
 * What keeps the preview from rendering, in words: a form just opened has no URL yet, which is
 * not a mistake to flag but the next thing to fill in.
 */
function previewProblem(err: unknown): string {
  if (err instanceof ApiError && err.status === 400 && Object.keys(err.fieldErrors()).join() === 'url')
    return 'Enter the URL to see the request this channel would send.';
  return errorMessage(err);
}

export function ChannelPreviewPanel({
  organizationId,
  channelId,
  input,
}: {
  organizationId: number;
  channelId: number | null;
  input: ChannelInput;
}) {
  const [event, setEvent] = useState<PreviewEvent>('test.finished');
  const [preview, setPreview] = useState<ChannelPreview | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const key = JSON.stringify([input, event, channelId]);

  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      api
        .previewChannel(organizationId, { ...input, ...(channelId ? { channel_id: channelId } : {}), event })
        .then((p) => {
          if (!live) return;
          setPreview(p);
          setProblem(null);
        })
        .catch((err: unknown) => live && setProblem(previewProblem(err)));
    }, DEBOUNCE_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
    // `key` stands for the input's content: a new object with the same settings is no change.
  }, [key, organizationId]);

  const contentType = preview
    ? Object.entries(preview.headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1]
    : undefined;
  return (
    <aside className="card channel-preview" aria-label="Preview">
      <h2>Preview</h2>
      <div className="field">
        <label htmlFor="preview-event">Sample event</label>
        <select id="preview-event" value={event} onChange={(e) => setEvent(e.target.value as PreviewEvent)}>
          {EVENTS.map((e) => (
            <option key={e.value} value={e.value}>
              {e.label}
            </option>
          ))}
        </select>
      </div>
      <div aria-live="polite">
        {problem ? <p className="muted preview-problem">{problem}</p> : null}
        {preview ? (
          <div className={problem ? 'stale' : undefined}>
            <p className="mono small preview-line">
              {preview.method} <RedactedUrl url={preview.url} />
            </p>
            <dl className="preview-headers mono small">
              {Object.entries(preview.headers).map(([k, v]) => (
                <div key={k}>
                  <dt>{k}:</dt> <dd>{v}</dd>
                </div>
              ))}
            </dl>
            <pre className="preview-body" data-testid="preview-body">
              {pretty(preview.body, contentType)}
            </pre>
          </div>
        ) : problem ? null : (
          <p className="muted">Rendering…</p>
        )}
      </div>
      <p className="hint">
        A sample run (“Checkout” in “Shop”, run #42). Previewing sends nothing and stores nothing.
      </p>
    </aside>
  );
}
