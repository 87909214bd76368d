/**
 * A channel URL as the API shows it (`https://host/hooks/****1a2b`: the secret part replaced by
 * `****`, sometimes its last four characters kept) split for people: what is shown, then a
 * marker that says the rest is hidden, so the stars do not read like part of the path.
 */
export function splitRedacted(url: string): { shown: string; tail: string } | null {
  const m = /^(.*?)\/\*{4}(.*)$/.exec(url);
  return m ? { shown: `${m[1]}/…`, tail: m[2] ?? '' } : null;
}

export function RedactedUrl({ url }: { url: string }) {
  const parts = splitRedacted(url);
  if (!parts) return <span className="mono">{url}</span>;
  return (
    <span className="redacted-url">
      <span className="mono">{parts.shown}</span>{' '}
      <span
        className="hidden-marker"
        title="The rest of the URL is a secret: stored encrypted and never shown."
      >
        rest hidden{parts.tail ? `, ends in ${parts.tail}` : ''}
      </span>
    </span>
  );
}
