import { useEffect, useId, useRef, useState, type InputHTMLAttributes, type ReactNode } from 'react';
import type { DeliveryState, RunResult, RunStatus } from '../api.js';

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="muted" role="status">
      <span className="spinner" aria-hidden="true" /> {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

export function ErrorBanner({ message }: { message: string | null | undefined }) {
  if (!message) return null;
  return (
    <div className="banner banner-error" role="alert">
      <strong>Error: </strong>
      {message}
    </div>
  );
}

export function Notice({
  children,
  tone = 'info',
}: {
  children: ReactNode;
  tone?: 'info' | 'success' | 'warning';
}) {
  return (
    <div className={`banner banner-${tone}`} role="status">
      {children}
    </div>
  );
}

interface FieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, 'onChange' | 'value'> {
  label: string;
  value: string;
  onChange(value: string): void;
  error?: string | undefined;
  hint?: ReactNode;
}

/** A labelled input whose hint and error are announced with it (aria-describedby). */
export function TextField({ label, value, onChange, error, hint, className, ...rest }: FieldProps) {
  const id = useId();
  const describedBy = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ');
  return (
    <div className={`field ${className ?? ''}`}>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy || undefined}
        {...rest}
      />
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      <FieldError id={`${id}-error`} message={error} />
    </div>
  );
}

/** A password someone chooses for their own new account: the server's rule, said up front. */
export function NewPasswordField(props: {
  value: string;
  onChange(value: string): void;
  error?: string | undefined;
}) {
  return (
    <TextField
      label="Password"
      type="password"
      autoComplete="new-password"
      required
      minLength={8}
      hint="At least 8 characters."
      {...props}
    />
  );
}

export function FieldError({ id, message }: { id?: string; message: string | undefined }) {
  if (!message) return null;
  return (
    <p className="field-error" id={id}>
      <span aria-hidden="true">⚠ </span>
      {message}
    </p>
  );
}

export const STATUS_TEXT: Record<RunStatus, string> = {
  created: 'Created',
  validated: 'Validated',
  queued: 'Queued',
  initializing: 'Initializing',
  running: 'Running',
  finished: 'Finished',
  timed_out: 'Timed out',
  aborted_by_user: 'Aborted by user',
  aborted_by_system: 'Aborted by system',
  aborted_by_script_error: 'Aborted by script error',
  aborted_by_threshold: 'Aborted by threshold',
  aborted_by_limit: 'Aborted by limit',
};

function statusTone(status: RunStatus): { tone: string; icon: string } {
  if (status === 'running') return { tone: 'active', icon: '▶' };
  if (status === 'finished') return { tone: 'ok', icon: '✓' };
  if (status === 'timed_out') return { tone: 'warn', icon: '⏱' };
  if (status.startsWith('aborted')) return { tone: 'bad', icon: '■' };
  return { tone: 'neutral', icon: '…' };
}

/** Words first; colour and the icon only repeat what the words say. */
export function StatusBadge({ status, text }: { status: RunStatus; text?: string }) {
  const { tone, icon } = statusTone(status);
  return (
    <span className={`badge badge-${tone}`}>
      <span aria-hidden="true">{icon}</span> {text ?? STATUS_TEXT[status] ?? status}
    </span>
  );
}

export function ResultBadge({ result }: { result: RunResult | null }) {
  if (result === null) return <span className="muted">No result</span>;
  return result === 'passed' ? (
    <span className="badge badge-ok">
      <span aria-hidden="true">✓</span> Passed
    </span>
  ) : (
    <span className="badge badge-bad">
      <span aria-hidden="true">✕</span> Failed
    </span>
  );
}

export function DeliveryBadge({ state }: { state: DeliveryState }) {
  const map: Record<DeliveryState, [string, string, string]> = {
    pending: ['warn', '…', 'Pending'],
    delivered: ['ok', '✓', 'Delivered'],
    failed: ['bad', '✕', 'Failed'],
    skipped: ['neutral', '–', 'Skipped'],
  };
  const [tone, icon, text] = map[state] ?? ['neutral', '?', state];
  return (
    <span className={`badge badge-${tone}`}>
      <span aria-hidden="true">{icon}</span> {text}
    </span>
  );
}

export function Time({ value }: { value: string | null | undefined }) {
  if (!value) return <span className="muted">—</span>;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return <span>{value}</span>;
  return (
    <time dateTime={value} title={d.toISOString()}>
      {d.toLocaleString()}
    </time>
  );
}

export function LoadMore({
  nextCursor,
  loading,
  onClick,
}: {
  nextCursor: string | null;
  loading: boolean;
  onClick(): void;
}) {
  if (!nextCursor) return null;
  return (
    <div className="load-more">
      <button type="button" className="btn" onClick={onClick} disabled={loading}>
        {loading ? 'Loading…' : 'Load more'}
      </button>
    </div>
  );
}

/** After a dialog closes: focus lost with the control that opened it goes to the page's heading. */
function keepFocusOnPage() {
  const active = document.activeElement;
  if (active && active !== document.body && active.isConnected) return;
  document.querySelector<HTMLElement>('main h1')?.focus();
}

/** A modal confirmation on the native <dialog>: focus is trapped and Escape cancels. */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  busy,
  onConfirm,
  onCancel,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  busy?: boolean;
  onConfirm(): void;
  onCancel(): void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) {
      d.close();
      keepFocusOnPage();
    }
  }, [open]);
  // Confirmed away with the row it belongs to (a removed member, a deleted token): the dialog
  // goes with the control that opened it, and focus would be left on <body>.
  useEffect(() => keepFocusOnPage, []);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onCancel();
      }}
    >
      {open ? (
        <>
          <h2 id={titleId}>{title}</h2>
          <div className="dialog-body">{children}</div>
          <div className="actions">
            <button type="button" className="btn" onClick={onCancel} autoFocus>
              Cancel
            </button>
            <button type="button" className="btn btn-danger" onClick={onConfirm} disabled={busy}>
              {busy ? 'Working…' : confirmLabel}
            </button>
          </div>
        </>
      ) : null}
    </dialog>
  );
}

export function PageHeader({ title, children }: { title: ReactNode; children?: ReactNode }) {
  return (
    <div className="page-header">
      <h1 tabIndex={-1}>{title}</h1>
      {children ? <div className="page-actions">{children}</div> : null}
    </div>
  );
}

/** A scrollable table wrapper that keyboard users can scroll too. */
export function TableWrap({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

/**
 * A secret the server shows this once (an API token, a signing secret): selected on focus,
 * with Copy (falling back to selecting it for Ctrl+C) and Done.
 */
export function ShownOnce({
  value,
  label,
  children,
  onDismiss,
  focus = false,
}: {
  value: string;
  /** The input's accessible name. */
  label: string;
  /** What was created and what to do with it. */
  children: ReactNode;
  onDismiss(): void;
  /** Move focus (and the selection) to the value when it appears, so it is not missed. */
  focus?: boolean;
}) {
  const id = useId();
  const [copied, setCopied] = useState<'yes' | 'no' | null>(null);
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (focus) ref.current?.focus();
  }, [focus, value]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      // Without clipboard permission, select the text so Ctrl+C works.
      ref.current?.select();
      setCopied('no');
    }
  };
  return (
    <div className="banner banner-success new-token" role="status">
      <p>{children}</p>
      <div className="inline-controls">
        <label htmlFor={id} className="visually-hidden">
          {label}
        </label>
        <input
          id={id}
          ref={ref}
          className="mono token-value"
          readOnly
          value={value}
          onFocus={(e) => e.target.select()}
        />
        <button type="button" className="btn" onClick={() => void copy()}>
          Copy
        </button>
        <button type="button" className="btn" onClick={onDismiss}>
          Done
        </button>
      </div>
      <p aria-live="polite" className="small">
        {copied === 'yes'
          ? 'Copied to the clipboard.'
          : copied === 'no'
            ? 'Selected: press Ctrl+C to copy.'
            : ''}
      </p>
    </div>
  );
}
