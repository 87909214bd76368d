import { api } from '../api.js';
import { usePaged, usePoll } from '../hooks.js';
import { Link } from '../router.js';
import { ZonedTime } from './schedule-form.js';
import { Empty, ErrorBanner, Loading, LoadMore, TableWrap } from './ui.js';

/**
 * A schedule's recent ticks, newest first: each one that started a run (linked), and each one
 * that was skipped, with the reason (the previous run still going, the server down at the time).
 */
export function ScheduleTicks({
  loadTestId,
  timeZone,
  live,
}: {
  loadTestId: number;
  timeZone: string;
  live: boolean;
}) {
  const ticks = usePaged(`schedule-ticks:${loadTestId}`, (c) => api.scheduleTicks(loadTestId, c));
  usePoll(live, 5000, () => ticks.refresh());
  return (
    <section>
      <h2>Recent ticks</h2>
      <ErrorBanner message={ticks.error} />
      {ticks.loading ? (
        <Loading what="Loading ticks" />
      ) : ticks.items.length === 0 ? (
        <Empty>No tick yet: each one shows here, started or skipped.</Empty>
      ) : (
        <TableWrap label="Recent ticks">
          <table className="stack-narrow">
            <thead>
              <tr>
                <th scope="col">Tick</th>
                <th scope="col">Outcome</th>
                <th scope="col">Run or reason</th>
              </tr>
            </thead>
            <tbody>
              {ticks.items.map((t) => (
                <tr key={t.id}>
                  <td data-label="Tick">
                    <ZonedTime value={t.tick_at} timeZone={timeZone} />
                  </td>
                  <td data-label="Outcome">
                    {t.outcome === 'started' ? (
                      <span className="badge badge-ok">
                        <span aria-hidden="true">▶</span> Started
                      </span>
                    ) : (
                      <span className="badge badge-warn">
                        <span aria-hidden="true">↷</span> Skipped
                      </span>
                    )}
                  </td>
                  <td data-label="Run or reason" className="wrap-text">
                    {t.run_id !== null ? <Link to={`/runs/${t.run_id}`}>Run #{t.run_id}</Link> : null}
                    {t.reason ? (
                      <span>
                        {t.run_id !== null ? ' · ' : null}
                        {t.reason}
                      </span>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <LoadMore nextCursor={ticks.nextCursor} loading={ticks.loadingMore} onClick={ticks.loadMore} />
    </section>
  );
}
