import { useEffect, useId, useMemo, useRef, useState } from 'react';
import uPlot from 'uplot';
import { api, type Figures, type Trend, type TrendRun } from '../api.js';
import { useResource } from '../hooks.js';
import { Link } from '../router.js';
import { Empty, ErrorBanner, Loading, STATUS_TEXT } from './ui.js';

/** How many runs the charts show. */
const TREND_RUNS = 20;

type Charted = 'p95_ms' | 'failure_rate' | 'request_rate';

/** The three figures charted, each on its own small chart with its own scale. */
const CHARTS: {
  key: Charted;
  label: string;
  unit: string;
  format(n: number): string;
  axis(n: number): string;
}[] = [
  {
    key: 'p95_ms',
    label: 'p95 duration',
    unit: 'ms',
    format: (n) => `${n.toFixed(1)} ms`,
    axis: (n) => `${trim(n)} ms`,
  },
  {
    key: 'failure_rate',
    label: 'Failure rate',
    unit: '%',
    format: (n) => `${(n * 100).toFixed(2)} %`,
    axis: (n) => `${trim(n * 100)} %`,
  },
  {
    key: 'request_rate',
    label: 'Request rate',
    unit: '/s',
    format: (n) => `${n.toFixed(1)}/s`,
    axis: (n) => `${trim(n)}/s`,
  },
];

/** An axis label without float noise: 0.30000000000000004 reads 0.3. */
const trim = (n: number) => String(Number(n.toPrecision(4)));

/** Colours of the page's stylesheet (styles.css), which a canvas cannot read from CSS by itself. */
const INK = {
  line: '#2757d6',
  passed: '#13632e',
  failed: '#a11b1b',
  none: '#59626e',
  text: '#3b434e',
  grid: '#e4e7ec',
  baseline: '#7a4a00',
  highlight: '#1b1f24',
};

type Outcome = 'passed' | 'failed' | 'none';
const outcomeOf = (r: TrendRun): Outcome => r.result ?? 'none';
const OUTCOME_TEXT: Record<Outcome, string> = { passed: 'Passed', failed: 'Failed', none: 'No result' };
/** The marker of each result, so the chart never says it by colour alone. */
const OUTCOME_MARK: Record<Outcome, string> = { passed: '●', failed: '▲', none: '○' };

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

/**
 * The load test's last runs as three small charts (p95, failure rate, request rate), each run a
 * marker shaped and coloured by its result, the pinned baseline a dashed line and a diamond,
 * and, on a run's page, that run marked. A caption says the drift in words and a table holds
 * every figure, for whoever does not see the canvas.
 */
export function TrendSection({
  loadTestId,
  highlightRunId,
  refreshKey = null,
}: {
  loadTestId: number;
  /** The run whose page this is: marked on the charts, which end at it when it is older than the last runs. */
  highlightRunId?: number;
  /** A change re-reads the trend (the load test page passes its ended runs); null while unknown. */
  refreshKey?: string | null;
}) {
  const trend = useResource(`trend:${loadTestId}:${highlightRunId ?? ''}`, async () => {
    const latest = await api.trend(loadTestId, TREND_RUNS);
    const first = latest.runs[0];
    if (highlightRunId === undefined || !first || highlightRunId >= first.run_id) return latest;
    return api.trend(loadTestId, TREND_RUNS, highlightRunId);
  });
  // A run ended or the baseline moved: read again, keeping the charts drawn meanwhile.
  const { reload } = trend;
  const seen = useRef<string | null>(null);
  useEffect(() => {
    if (refreshKey === null || seen.current === refreshKey) return;
    // The first state known is the one the first read saw.
    if (seen.current !== null) void reload();
    seen.current = refreshKey;
  }, [refreshKey, reload]);
  const onRunPage = highlightRunId !== undefined;
  const title = onRunPage ? 'Where this run sits' : 'Trend';
  const titleId = useId();
  const runs = trend.data?.runs ?? [];
  // A run page shows the trend only when the run is on it: one without figures sits nowhere.
  if (onRunPage && (runs.length < 2 || !runs.some((r) => r.run_id === highlightRunId))) return null;
  return (
    <section className="card trend" aria-labelledby={titleId}>
      <h2 id={titleId}>{title}</h2>
      <ErrorBanner message={trend.error} />
      {trend.loading ? (
        <Loading what="Loading the trend" />
      ) : trend.data && runs.length >= 2 ? (
        <TrendCharts trend={trend.data} highlightRunId={highlightRunId} />
      ) : trend.data ? (
        <Empty>
          The trend appears here once two runs have ended with figures (p95, failure rate or request rate,
          from the tool’s summary); {runs.length === 0 ? 'none has' : 'one has'} so far.
        </Empty>
      ) : null}
    </section>
  );
}

function TrendCharts({ trend, highlightRunId }: { trend: Trend; highlightRunId?: number }) {
  const { runs, baseline } = trend;
  const [hovered, setHovered] = useState<number | null>(null);
  const highlighted = runs.findIndex((r) => r.run_id === highlightRunId);
  // What the readouts show: the run under the pointer, else this run, else the newest.
  const shown = runs[hovered ?? (highlighted >= 0 ? highlighted : runs.length - 1)]!;
  const charts = CHARTS.filter((c) => runs.some((r) => r.figures[c.key] !== undefined));
  const syncKey = useId();
  const baselineInView = baseline !== null && runs.some((r) => r.run_id === baseline.run_id);
  return (
    <>
      <p className="trend-caption">{caption(trend, charts, highlightRunId)}</p>
      <ul className="trend-key" aria-label="Markers">
        {(['passed', 'failed', 'none'] as const)
          .filter((o) => runs.some((r) => outcomeOf(r) === o))
          .map((o) => (
            <li key={o}>
              <span aria-hidden="true" className={`trend-mark trend-${o}`}>
                {OUTCOME_MARK[o]}
              </span>{' '}
              {OUTCOME_TEXT[o]}
            </li>
          ))}
        {baseline ? (
          <li>
            <span aria-hidden="true" className="trend-mark trend-baseline">
              ◇
            </span>{' '}
            Baseline, <Link to={`/runs/${baseline.run_id}`}>run #{baseline.run_id}</Link>
            {baselineInView ? '' : ' (older: its dashed line)'}
          </li>
        ) : null}
        {highlighted >= 0 ? (
          <li>
            <span aria-hidden="true" className="trend-mark trend-this">
              ┆
            </span>{' '}
            This run
          </li>
        ) : null}
      </ul>
      <p className="trend-readout" data-testid="trend-readout">
        <Link to={`/runs/${shown.run_id}`}>Run #{shown.run_id}</Link>
        {': '}
        {shown.result ? OUTCOME_TEXT[shown.result].toLowerCase() : STATUS_TEXT[shown.status].toLowerCase()}
        {', ended '}
        {when(shown.ended_at)}
      </p>
      <div className="trend-charts">
        {charts.map((c) => (
          <figure key={c.key} className="trend-chart">
            <figcaption>
              <span className="trend-label">{c.label}</span>{' '}
              <span className="trend-value">
                {shown.figures[c.key] === undefined ? '—' : c.format(shown.figures[c.key]!)}
              </span>
            </figcaption>
            <Chart
              runs={runs}
              figure={c}
              baseline={baseline}
              highlighted={highlighted}
              syncKey={syncKey}
              onHover={setHovered}
            />
          </figure>
        ))}
      </div>
      <details className="trend-table">
        <summary>Figures of these runs as a table</summary>
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Figures of the runs on the trend, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Result</th>
                {charts.map((c) => (
                  <th scope="col" key={c.key}>
                    {c.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.run_id}>
                  <th scope="row">
                    <Link to={`/runs/${r.run_id}`}>#{r.run_id}</Link>
                    {r.run_id === baseline?.run_id ? ' (baseline)' : ''}
                    {r.run_id === highlightRunId ? ' (this run)' : ''}
                  </th>
                  <td>{r.result ? OUTCOME_TEXT[r.result] : STATUS_TEXT[r.status]}</td>
                  {charts.map((c) => (
                    <td key={c.key}>{r.figures[c.key] === undefined ? '—' : c.format(r.figures[c.key]!)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </>
  );
}

/** The drift in words: "Last 12 runs (#3 to #14): p95 duration from 350.0 ms to 412.0 ms, ...". */
function caption(trend: Trend, charts: typeof CHARTS, highlightRunId?: number): string {
  const { runs, baseline } = trend;
  const first = runs[0]!;
  const last = runs[runs.length - 1]!;
  const drifts = charts.flatMap((c) => {
    const values = runs.map((r) => r.figures[c.key]).filter((v): v is number => v !== undefined);
    if (values.length === 0) return [];
    const from = values[0]!;
    const to = values[values.length - 1]!;
    return [`${c.label.toLowerCase()} from ${c.format(from)} to ${c.format(to)}`];
  });
  const failed = runs.filter((r) => r.result === 'failed').length;
  const none = runs.filter((r) => r.result === null).length;
  const outcomes = [
    `${runs.length - failed - none} passed`,
    ...(failed ? [`${failed} failed`] : []),
    ...(none ? [`${none} without a result`] : []),
  ].join(', ');
  const sentences = [
    `Last ${runs.length} runs with figures (#${first.run_id} to #${last.run_id}, ` +
      `${when(first.ended_at)} to ${when(last.ended_at)}): ${drifts.join(', ')}; ${outcomes}.`,
  ];
  if (baseline) {
    const p95 = baseline.figures.p95_ms;
    sentences.push(
      `Baseline: run #${baseline.run_id}` + (p95 === undefined ? '.' : `, p95 ${p95.toFixed(1)} ms.`),
    );
  }
  const here = runs.find((r) => r.run_id === highlightRunId);
  if (here) {
    const p95s = runs.map((r) => r.figures.p95_ms).filter((v): v is number => v !== undefined);
    const mine = here.figures.p95_ms;
    if (mine !== undefined && p95s.length > 1) {
      const below = p95s.filter((v) => v < mine).length;
      sentences.push(`This run’s p95 is higher than that of ${below} of the other ${p95s.length - 1} runs.`);
    }
  }
  return sentences.join(' ');
}

/** One figure's chart: a uPlot canvas, sized to its box and redrawn when the box changes. */
function Chart({
  runs,
  figure,
  baseline,
  highlighted,
  syncKey,
  onHover,
}: {
  runs: TrendRun[];
  figure: (typeof CHARTS)[number];
  baseline: Trend['baseline'];
  highlighted: number;
  syncKey: string;
  onHover(index: number | null): void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const hover = useRef(onHover);
  hover.current = onHover;
  const values = useMemo(() => runs.map((r) => r.figures[figure.key] ?? null), [runs, figure.key]);
  const base = baseline?.figures[figure.key as keyof Figures];
  const label = useMemo(() => {
    const present = values.filter((v): v is number => v !== null);
    return (
      `${figure.label} of runs #${runs[0]!.run_id} to #${runs[runs.length - 1]!.run_id}: ` +
      `lowest ${figure.format(Math.min(...present))}, highest ${figure.format(Math.max(...present))}`
    );
  }, [values, runs, figure]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const n = runs.length;
    const height = highlighted >= 0 ? 150 : 190;
    const xs = runs.map((_, i) => i);
    const top = Math.max(...values.map((v) => v ?? 0), base ?? 0);
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: false },
      cursor: {
        y: false,
        sync: { key: syncKey },
        drag: { x: false, y: false, setScale: false },
        points: { show: false },
      },
      scales: {
        x: { time: false, range: () => [-0.5, n - 0.5] },
        // From zero, so a change looks as large as it is; room above the highest point.
        y: { range: () => [0, top > 0 ? top * 1.2 : figure.key === 'failure_rate' ? 0.01 : 1] },
      },
      axes: [
        {
          stroke: INK.text,
          grid: { show: false },
          ticks: { stroke: INK.grid, size: 4 },
          size: 30,
          font: '12px system-ui, sans-serif',
          splits: (u) => {
            const step = Math.max(1, Math.ceil((n * 44) / (u.bbox.width / uPlot.pxRatio)));
            const out: number[] = [];
            for (let i = n - 1; i >= 0; i -= step) out.unshift(i);
            return out;
          },
          values: (_u, splits) => splits.map((i) => `#${runs[i]?.run_id ?? ''}`),
        },
        {
          stroke: INK.text,
          grid: { stroke: INK.grid, width: 1 },
          ticks: { show: false },
          font: '12px system-ui, sans-serif',
          size: 64,
          space: 28,
          values: (_u, splits) => splits.map(figure.axis),
        },
      ],
      series: [
        {},
        {
          label: figure.label,
          stroke: INK.line,
          width: 1.5,
          spanGaps: true,
          points: { show: false },
        },
      ],
      hooks: {
        draw: [(u) => drawMarks(u, runs, values, base, baseline?.run_id ?? null, highlighted)],
        setCursor: [(u) => hover.current(u.cursor.idx ?? null)],
      },
    };
    const plot = new uPlot(opts, [xs, values], el);
    // The canvas is drawn for eyes; its name (the figcaption and the caption above) is the text.
    plot.root.setAttribute('aria-hidden', 'true');
    const resize = new ResizeObserver(() => {
      const width = Math.max(200, el.clientWidth);
      if (width !== plot.width) plot.setSize({ width, height });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [runs, values, base, baseline, highlighted, figure, syncKey]);

  return <div ref={box} className="trend-canvas" role="img" aria-label={label} />;
}

/** Each run's marker by result, the baseline (dashed line, diamond) and this run (a band). */
function drawMarks(
  u: uPlot,
  runs: TrendRun[],
  values: (number | null)[],
  base: number | undefined,
  baselineRunId: number | null,
  highlighted: number,
) {
  const ctx = u.ctx;
  const px = uPlot.pxRatio;
  const { left, top, width, height } = u.bbox;
  ctx.save();
  ctx.font = `${12 * px}px system-ui, sans-serif`;
  if (highlighted >= 0) {
    const x = u.valToPos(highlighted, 'x', true);
    ctx.fillStyle = 'rgba(39, 87, 214, 0.12)';
    ctx.fillRect(x - 9 * px, top, 18 * px, height);
    ctx.fillStyle = INK.highlight;
    ctx.textAlign = x > left + width / 2 ? 'right' : 'left';
    ctx.textBaseline = 'top';
    ctx.fillText('This run', x + (x > left + width / 2 ? -12 : 12) * px, top + 2 * px);
  }
  if (base !== undefined) {
    const y = u.valToPos(base, 'y', true);
    ctx.strokeStyle = INK.baseline;
    ctx.lineWidth = 1.5 * px;
    ctx.setLineDash([6 * px, 4 * px]);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + width, y);
    ctx.stroke();
    ctx.setLineDash([]);
    // The label on a white ground, so the line and markers behind it do not garble it.
    const text = `Baseline #${baselineRunId}`;
    const w = ctx.measureText(text).width;
    ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
    ctx.fillRect(left + 2 * px, y - 16 * px, w + 4 * px, 14 * px);
    ctx.fillStyle = INK.baseline;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'bottom';
    ctx.fillText(text, left + 4 * px, y - 3 * px);
  }
  const r = 4.5 * px;
  runs.forEach((run, i) => {
    const v = values[i];
    if (v === null || v === undefined) return;
    const x = u.valToPos(i, 'x', true);
    const y = u.valToPos(v, 'y', true);
    const outcome = outcomeOf(run);
    ctx.lineWidth = 1.5 * px;
    if (run.run_id === baselineRunId) {
      ctx.strokeStyle = INK.baseline;
      ctx.beginPath();
      ctx.moveTo(x, y - 9 * px);
      ctx.lineTo(x + 9 * px, y);
      ctx.lineTo(x, y + 9 * px);
      ctx.lineTo(x - 9 * px, y);
      ctx.closePath();
      ctx.stroke();
    }
    if (i === highlighted) {
      ctx.strokeStyle = INK.highlight;
      ctx.beginPath();
      ctx.arc(x, y, 8 * px, 0, Math.PI * 2);
      ctx.stroke();
    }
    ctx.fillStyle = INK[outcome];
    ctx.strokeStyle = INK[outcome];
    ctx.beginPath();
    if (outcome === 'failed') {
      ctx.moveTo(x, y - r * 1.2);
      ctx.lineTo(x + r * 1.1, y + r * 0.8);
      ctx.lineTo(x - r * 1.1, y + r * 0.8);
      ctx.closePath();
      ctx.fill();
    } else if (outcome === 'passed') {
      ctx.arc(x, y, r, 0, Math.PI * 2);
      ctx.fill();
    } else {
      ctx.fillStyle = '#fff';
      ctx.arc(x, y, r, 0, Math.PI * 2);
      ctx.fill();
      ctx.stroke();
    }
  });
  ctx.restore();
}
