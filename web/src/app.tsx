import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, errorMessage, setCsrfToken, setUnauthenticatedHandler, type Me } from './api.js';
import { ErrorBanner, Loading, PageHeader, TextField } from './components/ui.js';
import { lastNavigation, Link, match, navigate, usePath } from './router.js';
import {
  orgLabel,
  rememberedOrganization,
  rememberOrganization,
  SessionContext,
  useSession,
  type Session,
} from './session.js';
import { SetupPage, SignInPage } from './pages/auth-pages.js';
import { AcceptInvitationPage } from './pages/accept-invitation-page.js';
import { ProjectsPage, ProjectPage, LoadTestPage } from './pages/projects-pages.js';
import { RunsPage, RunPage } from './pages/runs-pages.js';
import { IntegrationsPage } from './pages/integrations-page.js';
import { ChannelPage } from './pages/channel-page.js';
import { ChannelDeliveriesPage, DeliveryPage } from './pages/deliveries-pages.js';
import { MembersPage } from './pages/members-page.js';
import { TokensPage } from './pages/tokens-page.js';
import { AlertsBanner } from './components/alerts-banner.js';

type Phase =
  | { kind: 'loading' }
  | { kind: 'setup' }
  | { kind: 'signin' }
  | { kind: 'ready'; me: Me }
  | { kind: 'error'; message: string };

const NAV = [
  { to: '/projects', label: 'Projects' },
  { to: '/runs', label: 'Runs' },
  { to: '/integrations', label: 'Integrations' },
  { to: '/members', label: 'Members' },
  { to: '/tokens', label: 'API tokens' },
] as const;

type Route = [pattern: string, render: (p: Record<string, string>) => ReactNode];
const ROUTES: Route[] = [
  ['/projects', () => <ProjectsPage />],
  ['/projects/:id', (p) => <ProjectPage id={Number(p.id)} />],
  ['/load-tests/:id', (p) => <LoadTestPage id={Number(p.id)} />],
  ['/runs', () => <RunsPage />],
  ['/runs/:id', (p) => <RunPage id={Number(p.id)} />],
  ['/integrations', () => <IntegrationsPage />],
  ['/integrations/new/:type', (p) => <ChannelPage type={p.type!} />],
  ['/integrations/:id', (p) => <ChannelPage id={Number(p.id)} />],
  ['/integrations/:id/deliveries', (p) => <ChannelDeliveriesPage id={Number(p.id)} />],
  ['/deliveries/:id', (p) => <DeliveryPage id={Number(p.id)} />],
  ['/members', () => <MembersPage />],
  ['/tokens', () => <TokensPage />],
];

/** The invitation link's page, for people signed in or not, outside the signed-in shell. */
const ACCEPT_PATH = '/invitations/accept';

export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'loading' });
  const path = usePath();

  const start = useCallback(async () => {
    try {
      const { needed } = await api.setupStatus();
      if (needed) return setPhase({ kind: 'setup' });
      const me = await api.me();
      setCsrfToken(me.csrf_token ?? null);
      setPhase({ kind: 'ready', me });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setPhase({ kind: 'signin' });
      else setPhase({ kind: 'error', message: errorMessage(err) });
    }
  }, []);

  useEffect(() => {
    void start();
    setUnauthenticatedHandler(() => setPhase({ kind: 'signin' }));
    return () => setUnauthenticatedHandler(null);
  }, [start]);

  if (path === ACCEPT_PATH && (phase.kind === 'ready' || phase.kind === 'signin')) {
    return (
      <AcceptInvitationPage
        me={phase.kind === 'ready' ? phase.me : null}
        onSignedIn={start}
        onSignOut={async () => {
          try {
            await api.logout();
          } finally {
            setPhase({ kind: 'signin' });
          }
        }}
        onJoined={async (orgId) => {
          // Open the organization just joined; replace, so Back does not return to a used link.
          rememberOrganization(orgId);
          const me = await api.me();
          setCsrfToken(me.csrf_token ?? null);
          navigate('/projects', { replace: true });
          setPhase({ kind: 'ready', me });
        }}
      />
    );
  }

  switch (phase.kind) {
    case 'loading':
      return (
        <main className="auth-page">
          <Loading />
        </main>
      );
    case 'setup':
      return <SetupPage onDone={start} />;
    case 'signin':
      return <SignInPage onDone={start} />;
    case 'error':
      return (
        <main className="auth-page">
          <div className="card auth-card">
            <h1>loadnotify is not reachable</h1>
            <ErrorBanner message={phase.message} />
            <button type="button" className="btn btn-primary" onClick={() => void start()}>
              Try again
            </button>
          </div>
        </main>
      );
    case 'ready':
      return (
        <Shell
          me={phase.me}
          onMe={(me) => setPhase({ kind: 'ready', me })}
          onSignedOut={() => setPhase({ kind: 'signin' })}
        />
      );
  }
}

function Shell({ me, onMe, onSignedOut }: { me: Me; onMe(me: Me): void; onSignedOut(): void }) {
  const path = usePath();
  const [orgId, setOrgId] = useState<number | null>(() => {
    const remembered = rememberedOrganization();
    return me.memberships.some((m) => m.organization_id === remembered)
      ? remembered
      : (me.memberships[0]?.organization_id ?? null);
  });
  const org = me.memberships.find((m) => m.organization_id === orgId) ?? me.memberships[0] ?? null;

  const session = useMemo<Session>(
    () => ({
      me,
      org,
      selectOrganization: (id) => {
        rememberOrganization(id);
        setOrgId(id);
      },
      reloadMe: async () => {
        const next = await api.me();
        setCsrfToken(next.csrf_token ?? null);
        onMe(next);
      },
      signOut: async () => {
        try {
          await api.logout();
        } finally {
          onSignedOut();
        }
      },
    }),
    [me, org, onMe, onSignedOut],
  );

  useEffect(() => {
    if (path === '/' || path === '') navigate('/projects', { replace: true });
  }, [path]);

  // Move focus to the new page's heading so screen readers and keyboards start there.
  const firstRender = useRef(true);
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    if (lastNavigation() !== 'replace') document.querySelector<HTMLElement>('main h1')?.focus();
  }, [path]);

  const section = NAV.find((n) => path === n.to || path.startsWith(`${n.to}/`));
  const deliverySection = path.startsWith('/deliveries/') || path.startsWith('/load-tests/');
  useEffect(() => {
    document.title = `${section?.label ?? 'loadnotify'} · loadnotify`;
  }, [section]);

  const switchOrg = (id: number) => {
    session.selectOrganization(id);
    // Detail pages belong to the old organization; go to the section's list.
    const top = section?.to ?? '/projects';
    if (path !== top) navigate(top);
  };

  let content: ReactNode = null;
  for (const [pattern, render] of ROUTES) {
    const params = match(pattern, path);
    if (params) {
      content = render(params);
      break;
    }
  }

  return (
    <SessionContext.Provider value={session}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <div className="layout">
        <header className="sidebar">
          <div className="brand">
            <span aria-hidden="true">◆</span> loadnotify
          </div>
          {me.memberships.length > 0 ? (
            <div className="org-switcher">
              <label htmlFor="org-switcher">Organization</label>
              <select
                id="org-switcher"
                value={org?.organization_id ?? ''}
                onChange={(e) => switchOrg(Number(e.target.value))}
              >
                {me.memberships.map((m) => (
                  <option key={m.organization_id} value={m.organization_id}>
                    {orgLabel(m)} ({m.role})
                  </option>
                ))}
              </select>
            </div>
          ) : null}
          <nav aria-label="Main">
            <ul>
              {NAV.map((n) => {
                const active =
                  section?.to === n.to ||
                  (deliverySection &&
                    n.to === (path.startsWith('/deliveries/') ? '/integrations' : '/projects'));
                return (
                  <li key={n.to}>
                    <Link to={n.to} aria-current={active ? 'page' : undefined}>
                      {n.label}
                    </Link>
                  </li>
                );
              })}
            </ul>
          </nav>
          <div className="account">
            <span className="account-email" title={me.user.email}>
              {me.user.email}
            </span>
            <button type="button" className="btn btn-small" onClick={() => void session.signOut()}>
              Sign out
            </button>
          </div>
        </header>
        <main id="main" className="content" key={org?.organization_id ?? 0}>
          {org ? <AlertsBanner /> : null}
          {!org ? <NoOrganization /> : (content ?? <NotFound />)}
        </main>
      </div>
    </SessionContext.Provider>
  );
}

function NotFound() {
  return (
    <>
      <PageHeader title="Page not found" />
      <p>
        There is nothing at this address. <Link to="/projects">Go to Projects</Link>.
      </p>
    </>
  );
}

function NoOrganization() {
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const { me, reloadMe } = useSession();
  // Only instance administrators create organizations unless the operator allows anyone.
  if (!me.server?.can_create_organizations) {
    return (
      <>
        <PageHeader title="No organization yet" />
        <p>
          You are not a member of any organization. Ask an owner or admin of one to invite you: the invitation
          link brings you in.
        </p>
        <p className="muted">
          Only instance administrators create organizations on this server, so there is no “Create
          organization” here.
        </p>
      </>
    );
  }
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.createOrganization(name.trim());
      await reloadMe();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <PageHeader title="No organization yet" />
      <p>You are not a member of any organization. Ask an owner or admin to invite you, or create one.</p>
      <form className="card form-narrow" onSubmit={submit}>
        <ErrorBanner message={error} />
        <TextField label="Organization name" required value={name} onChange={setName} />
        <button type="submit" className="btn btn-primary" disabled={busy || !name.trim()}>
          Create organization
        </button>
      </form>
    </>
  );
}
