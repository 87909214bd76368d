import type { Delivery } from '../api.js';
import { Link } from '../router.js';
import { DeliveryBadge, TableWrap, Time } from './ui.js';

const EVENT_TEXT: Record<string, string> = {
  'test.started': 'Test started',
  'test.finished': 'Test finished',
  'test.notification_channel': 'Test hook',
};
export const eventText = (e: string) => EVENT_TEXT[e] ?? e;

/**
 * When a pending delivery goes out: its next attempt, or, while an earlier notification of the
 * same run to the same channel is still pending, that it waits for that one (its own
 * next-attempt time has usually passed by then and would read like a missed appointment).
 */
export function NextAttempt({
  delivery: d,
}: {
  delivery: Pick<Delivery, 'state' | 'next_attempt_at' | 'waiting_behind'>;
}) {
  if (d.state !== 'pending') return <span className="muted">—</span>;
  if (d.waiting_behind)
    return (
      <span className="waiting">
        Waiting for the run’s earlier notification to this channel (
        <Link to={`/deliveries/${d.waiting_behind}`}>delivery #{d.waiting_behind}</Link>)
      </span>
    );
  return <Time value={d.next_attempt_at} />;
}

/** Deliveries of a channel (channel column hidden) or of a run (channel names from `channelNames`). */
export function DeliveriesTable({
  deliveries,
  label,
  channelNames,
}: {
  deliveries: Delivery[];
  label: string;
  channelNames?: Map<number, string>;
}) {
  return (
    <TableWrap label={label}>
      <table className="stack-narrow">
        <thead>
          <tr>
            <th scope="col">Delivery</th>
            {channelNames ? <th scope="col">Channel</th> : null}
            <th scope="col">Event</th>
            <th scope="col">State</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last error</th>
            <th scope="col">Next attempt</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {deliveries.map((d) => (
            <tr key={d.id}>
              <td data-label="Delivery">
                <Link to={`/deliveries/${d.id}`} aria-label={`Delivery #${d.id} details`}>
                  #{d.id}
                </Link>
                {d.redelivery_of ? (
                  <span className="small muted nowrap">
                    {' '}
                    redelivery of <Link to={`/deliveries/${d.redelivery_of}`}>#{d.redelivery_of}</Link>
                  </span>
                ) : null}
              </td>
              {channelNames ? (
                <td data-label="Channel" className="name-cell">
                  <Link to={`/integrations/${d.channel_id}`}>
                    {channelNames.get(d.channel_id) ?? `Channel #${d.channel_id}`}
                  </Link>
                </td>
              ) : null}
              <td data-label="Event">
                {eventText(d.event_type)}
                {d.run_id !== null && !channelNames ? (
                  <>
                    {' '}
                    <Link to={`/runs/${d.run_id}`}>(run #{d.run_id})</Link>
                  </>
                ) : null}
              </td>
              <td data-label="State">
                <DeliveryBadge state={d.state} />
              </td>
              <td data-label="Attempts">{d.attempts}</td>
              <td data-label="Last error" className="wrap-text">
                {d.last_error ?? <span className="muted">—</span>}
              </td>
              <td data-label="Next attempt">
                <NextAttempt delivery={d} />
              </td>
              <td data-label="Created">
                <Time value={d.created_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
