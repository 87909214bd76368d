/**
 * The channel types the server delivers to, as its catalogue (`GET /api/v1/channel-types`)
 * describes them: labels, URL help, settings fields, signing, events a type refuses. Nothing
 * about a type is written here, so a type the server adds appears on the Integrations page and
 * gets its form without a change to the web app. Read once per page load.
 */
import { useEffect, useState } from 'react';
import { api, errorMessage, type ChannelTypeInfo } from './api.js';

export type { ChannelTypeInfo, ConfigField } from './api.js';

let loading: Promise<ChannelTypeInfo[]> | null = null;

function loadCatalogue(): Promise<ChannelTypeInfo[]> {
  loading ??= api.channelTypes().then(
    (r) => r.items,
    (err: unknown) => {
      loading = null; // the next page that asks tries again
      throw err;
    },
  );
  return loading;
}

export interface Catalogue {
  types: readonly ChannelTypeInfo[] | null;
  error: string | null;
}

export function useChannelTypes(): Catalogue {
  const [state, setState] = useState<Catalogue>({ types: null, error: null });
  useEffect(() => {
    let live = true;
    loadCatalogue()
      .then((types) => live && setState({ types, error: null }))
      .catch((err: unknown) => live && setState({ types: null, error: errorMessage(err) }));
    return () => {
      live = false;
    };
  }, []);
  return state;
}

/** A type's label, or its name while the catalogue loads (or for a type the server dropped). */
export function typeLabel(types: readonly ChannelTypeInfo[] | null, type: string): string {
  return types?.find((t) => t.type === type)?.label ?? type;
}
