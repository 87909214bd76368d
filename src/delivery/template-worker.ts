/**
 * A template worker's task (run by piscina in a worker thread; see template-pool.ts). It
 * imports only the template engines (liquidjs and @huggingface/jinja): a worker loads nothing else.
 */
import type { MessagePort } from 'node:worker_threads';
import { renderTemplate, type TemplateEngine } from '../channels/webhook-template.js';

export interface TemplateTask {
  source: string;
  scope: Record<string, unknown>;
  engine?: TemplateEngine;
  html?: boolean;
  /** Told when the render starts, so the pool's wall clock counts running, not queueing. */
  started: MessagePort;
}

/** The render's output, or why it failed (a TemplateError's message, e.g. a limit). */
export type TemplateResult = { output: string } | { error: string };

export default function renderTask(task: TemplateTask): TemplateResult {
  task.started.postMessage('started');
  try {
    return { output: renderTemplate(task.source, task.scope, task.engine, task.html) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}
