/**
 * User templates render here, in a small pool of worker threads (piscina), never on the
 * service's thread: liquidjs checks its time limit only between nodes, so a single filter over
 * a huge list held the event loop (and /healthz, and every delivery) for seconds. A worker
 * that runs past the wall-clock limit is terminated, and each has a heap cap, so a template
 * can cost at most one worker for a second and its memory, and the service answers meanwhile.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type {
  ChannelForDelivery,
  ChannelType,
  RenderContext,
  Rendered,
  TemplateJob,
} from '../channels/channel.js';
import { AppError } from '../core/errors.js';
import type { StoredEvent } from '../core/events.js';
import { RENDER_LIMIT_MS, TemplateError, type TemplateEngine } from '../channels/template-limits.js';
import type { TemplateResult, TemplateTask } from './template-worker.js';
import { workerFile } from './worker-file.js';
import { FairGate } from './fair-gate.js';

export const TEMPLATE_WORKERS = {
  /** Two at most: renders are short, and the machine's cores are the service's too. */
  threads: Math.min(2, availableParallelism()),
  /** The engine stops a render at RENDER_LIMIT_MS between nodes; past twice that it is stuck in one. */
  wallMs: 2 * RENDER_LIMIT_MS,
  /** A render's heap (old generation); the engine's own limits keep a fair template far below. */
  heapMb: 64,
  /** How long a render may wait for a free worker before the caller is told to come back. */
  queueWaitMs: 5_000,
  /** Renders waiting at most; more are refused at once. */
  maxQueue: 1_000,
};

/**
 * No worker could take the render in time (or the pool itself failed): nothing is wrong with
 * the template, so a delivery is retried, and a request (a save, a preview) answers 503.
 */
export class TemplateBusyError extends AppError {
  constructor(message: string) {
    super(503, 'unavailable', message);
    this.name = 'TemplateBusyError';
  }
}

let pool: Promise<Piscina> | null = null;
/**
 * Organizations take turns at the workers: with two, one organization renders in at most one,
 * so its slow (or hostile) templates delay another's by a turn at worst, not by its whole queue.
 */
const gate = new FairGate(TEMPLATE_WORKERS.threads);

/**
 * Started on the first templated render: a service whose channels have none has no threads.
 * Exported for the test that looks inside its workers.
 */
export function templatePool(): Promise<Piscina> {
  pool ??= workerFile(import.meta.url, './template-worker.js').then((filename) => {
    const p = new Piscina({
      filename,
      minThreads: 0,
      maxThreads: TEMPLATE_WORKERS.threads,
      idleTimeout: 30_000,
      maxQueue: TEMPLATE_WORKERS.maxQueue,
      // The workers run people's templates: their process.env holds nothing (a worker gets a copy
      // of the service's by default), so no secret is a property away from an engine. Not
      // isolation: a thread shares the process, its memory and /proc/self/environ. The engines
      // read no variable.
      env: {},
      resourceLimits: {
        maxOldGenerationSizeMb: TEMPLATE_WORKERS.heapMb,
        maxYoungGenerationSizeMb: 16,
        stackSizeMb: 4,
      },
    });
    // A worker lost between tasks: piscina starts another. One lost during a task rejects that
    // task, which renderInPool reports; without a listener, the event would end the process.
    p.on('error', () => {});
    return p;
  });
  pool.catch(() => (pool = null));
  return pool;
}

/**
 * Renders a template job in a worker for an organization (`tenant`): its output, or a
 * TemplateError / TemplateBusyError.
 */
export function renderInPool(job: TemplateJob, tenant: number): Promise<string> {
  return runInPool({ mode: 'render', ...job }, tenant);
}

/**
 * Checks a template being saved, in a worker (the engines are never loaded on the service's
 * thread): null when it parses, else what is wrong and on which line. TemplateBusyError when
 * no worker was free.
 */
export async function checkInPool(
  source: string,
  engine: TemplateEngine | undefined,
  tenant: number,
): Promise<string | null> {
  try {
    await runInPool({ mode: 'check', source, scope: {}, engine }, tenant);
    return null;
  } catch (err) {
    if (err instanceof TemplateError) return err.message;
    throw err;
  }
}

async function runInPool(job: Omit<TemplateTask, 'started'>, tenant: number): Promise<string> {
  const p = await templatePool().catch((err: unknown) => {
    throw new TemplateBusyError(`the template workers could not start: ${(err as Error).message}`);
  });
  const { port1, port2 } = new MessageChannel();
  const abort = new AbortController();
  let stopped: 'waited' | 'ran' | null = null;
  const stop = (why: 'waited' | 'ran') => () => {
    stopped = why;
    abort.abort(why);
  };
  // The wall clock starts when a worker starts the render: time spent queued behind other
  // renders is not this template's fault.
  let timer = setTimeout(stop('waited'), TEMPLATE_WORKERS.queueWaitMs);
  port1.once('message', () => {
    clearTimeout(timer);
    timer = setTimeout(stop('ran'), TEMPLATE_WORKERS.wallMs);
  });
  let release = () => {};
  try {
    release = await gate.enter(tenant, abort.signal);
    const task: TemplateTask = { ...job, started: port2 };
    // piscina infers its transferList type from MessagePort.postMessage, whose last overload in
    // this @types/node takes options instead of a list: the list is right, the inferred type not.
    const options = { transferList: [port2] as never, signal: abort.signal };
    const result = (await p.run(task, options)) as TemplateResult;
    if ('error' in result) throw new TemplateError(result.error);
    return result.output;
  } catch (err) {
    if (err instanceof TemplateError) throw err;
    if (stopped === 'ran')
      throw new TemplateError(
        `the template failed: time limit exceeded: it ran for more than ${TEMPLATE_WORKERS.wallMs} ms and was stopped`,
      );
    if ((err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY')
      throw new TemplateError(
        `the template failed: memory limit exceeded: it needed more than ${TEMPLATE_WORKERS.heapMb} MB and was stopped`,
      );
    if (stopped === 'waited')
      throw new TemplateBusyError(
        `every template worker was busy for ${TEMPLATE_WORKERS.queueWaitMs / 1000} s; try again shortly`,
      );
    throw new TemplateBusyError(`the template workers failed: ${(err as Error).message}`);
  } finally {
    release();
    clearTimeout(timer);
    port1.close();
  }
}

/**
 * What rendering a channel's request waits for: its template jobs (`template` and
 * `templates`), or null when it has none and renders without a worker.
 */
export function templateJobs(
  type: ChannelType,
  event: StoredEvent,
  channel: ChannelForDelivery,
  ctx: RenderContext,
): { single: TemplateJob | null; named: Record<string, TemplateJob> | null } | null {
  const single = type.template?.(event, channel, ctx) ?? null;
  const named = type.templates?.(event, channel, ctx) ?? null;
  return single === null && named === null ? null : { single, named };
}

/** The jobs rendered in the workers, as the render context carries their outputs. */
export async function renderJobs(
  jobs: NonNullable<ReturnType<typeof templateJobs>>,
  tenant: number,
): Promise<Pick<RenderContext, 'templateOutput' | 'templateOutputs'>> {
  const out: Pick<RenderContext, 'templateOutput' | 'templateOutputs'> = {};
  if (jobs.single) out.templateOutput = await renderInPool(jobs.single, tenant);
  if (jobs.named) {
    const outputs: Record<string, string> = {};
    // One after the other: an organization takes one worker at a time (the fair gate).
    for (const [name, job] of Object.entries(jobs.named)) outputs[name] = await renderInPool(job, tenant);
    out.templateOutputs = outputs;
  }
  return out;
}

/**
 * A channel's request: its templates (if it has any) rendered in a worker first, then the
 * type's own render, which is cheap and bounded. Without a template, no worker is involved.
 */
export async function renderChannel(
  type: ChannelType,
  event: StoredEvent,
  channel: ChannelForDelivery,
  ctx: RenderContext,
): Promise<Rendered> {
  const jobs = templateJobs(type, event, channel, ctx);
  if (jobs === null) return type.render(event, channel, ctx);
  return type.render(event, channel, { ...ctx, ...(await renderJobs(jobs, event.organization_id)) });
}

/** Ends the workers (tests and shutdown); the next render starts them again. */
export async function closeTemplatePool(): Promise<void> {
  const p = pool;
  pool = null;
  await (await p?.catch(() => null))?.destroy();
}
