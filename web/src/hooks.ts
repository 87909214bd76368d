import { useCallback, useEffect, useRef, useState } from 'react';
import { errorMessage, type Page } from './api.js';

export interface Paged<T> {
  items: T[];
  loading: boolean;
  error: string | null;
  nextCursor: string | null;
  loadingMore: boolean;
  loadMore(): void;
  /** Re-reads the first page and merges it in, keeping pages loaded with "Load more" after it. */
  refresh(): Promise<void>;
  setItems(update: (items: T[]) => T[]): void;
}

/**
 * A `{items, next_cursor}` list. `key` identifies the query; a new key starts over.
 * Refreshes merge by id so polling never throws away what "Load more" fetched.
 */
export function usePaged<T extends { id: number }>(
  key: string,
  fetchPage: (cursor: string | null) => Promise<Page<T>>,
): Paged<T> {
  const [items, setItemsState] = useState<T[]>([]);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;
  const keyRef = useRef(key);

  useEffect(() => {
    keyRef.current = key;
    let live = true;
    setLoading(true);
    setItemsState([]);
    setError(null);
    fetchRef
      .current(null)
      .then((p) => {
        if (!live) return;
        // Items created while the first page was on its way are newer than it: keep them.
        setItemsState((local) => {
          const fetched = new Set(p.items.map((i) => i.id));
          return [...local.filter((i) => !fetched.has(i.id)), ...p.items];
        });
        setNextCursor(p.next_cursor);
      })
      .catch((e: unknown) => live && setError(errorMessage(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [key]);

  const loadMore = useCallback(() => {
    if (!nextCursor) return;
    const k = keyRef.current;
    setLoadingMore(true);
    fetchRef
      .current(nextCursor)
      .then((p) => {
        if (keyRef.current !== k) return;
        setItemsState((old) => {
          const seen = new Set(old.map((i) => i.id));
          return [...old, ...p.items.filter((i) => !seen.has(i.id))];
        });
        setNextCursor(p.next_cursor);
      })
      .catch((e: unknown) => setError(errorMessage(e)))
      .finally(() => setLoadingMore(false));
  }, [nextCursor]);

  const refresh = useCallback(async () => {
    const k = keyRef.current;
    try {
      const p = await fetchRef.current(null);
      if (keyRef.current !== k) return;
      // The first page in the server's own order (a newest-first list gets its new items on
      // top, an oldest-first one at the bottom, as after a reload), then what "Load more"
      // fetched beyond it.
      setItemsState((old) => {
        const fresh = new Set(p.items.map((i) => i.id));
        return [...p.items, ...old.filter((i) => !fresh.has(i.id))];
      });
      setNextCursor((c) => c ?? p.next_cursor);
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, []);

  const setItems = useCallback((update: (items: T[]) => T[]) => setItemsState(update), []);

  return { items, loading, error, nextCursor, loadingMore, loadMore, refresh, setItems };
}

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload(): Promise<void>;
  setData(d: T): void;
}

/** One resource; `key` changes start over. */
export function useResource<T>(key: string, load: () => Promise<T>): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    let live = true;
    setLoading(true);
    setData(null);
    setError(null);
    loadRef
      .current()
      .then((d) => live && setData(d))
      .catch((e: unknown) => live && setError(errorMessage(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [key]);

  const reload = useCallback(async () => {
    try {
      setData(await loadRef.current());
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, []);

  return { data, error, loading, reload, setData };
}

/** Calls `tick` every `ms` while `active`; one call at a time, paused while the tab is hidden. */
export function usePoll(active: boolean, ms: number, tick: () => Promise<unknown>): void {
  const tickRef = useRef(tick);
  tickRef.current = tick;
  useEffect(() => {
    if (!active) return;
    let stopped = false;
    let timer: number | undefined;
    const loop = () => {
      timer = window.setTimeout(async () => {
        if (stopped) return;
        if (document.visibilityState !== 'hidden') {
          try {
            await tickRef.current();
          } catch {
            // The next tick tries again; the page shows the error the tick recorded.
          }
        }
        if (!stopped) loop();
      }, ms);
    };
    loop();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [active, ms]);
}
