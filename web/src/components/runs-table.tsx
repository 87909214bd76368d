import type { Run } from '../api.js';
import { Link } from '../router.js';
import { ResultBadge, StatusBadge, TableWrap, Time } from './ui.js';

const TRIGGER_TEXT: Record<string, string> = { manual: 'Manual', scheduled: 'Scheduled', api: 'API' };
export const triggerText = (t: string) => TRIGGER_TEXT[t] ?? t;

export function RunsTable({
  runs,
  showName = true,
  label,
}: {
  runs: Run[];
  showName?: boolean;
  label: string;
}) {
  return (
    <TableWrap label={label}>
      <table className="stack-narrow">
        <thead>
          <tr>
            <th scope="col">Run</th>
            {showName ? <th scope="col">Load test</th> : null}
            <th scope="col">Status</th>
            <th scope="col">Result</th>
            <th scope="col">Trigger</th>
            <th scope="col">Created</th>
            <th scope="col">Ended</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id}>
              <td data-label="Run" className="nowrap">
                <Link to={`/runs/${r.id}`}>Run #{r.id}</Link>
              </td>
              {showName ? (
                <td data-label="Load test" className="name-cell">
                  {r.name}
                </td>
              ) : null}
              <td data-label="Status">
                <StatusBadge status={r.status} text={r.status_text} />
              </td>
              <td data-label="Result">
                <ResultBadge result={r.result} />
              </td>
              <td data-label="Trigger">{triggerText(r.trigger)}</td>
              <td data-label="Created">
                <Time value={r.created_at} />
              </td>
              <td data-label="Ended">
                <Time value={r.ended_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
