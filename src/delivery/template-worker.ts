/**
 * A template worker's task (run by piscina in a worker thread; see template-pool.ts): render a
 * template, or check one that is being saved. It imports the template engines (liquidjs and
 * @huggingface/jinja) and html-to-text: only the workers load them.
 */
import type { MessagePort } from 'node:worker_threads';
import { textFromHtml } from '../channels/email-text.js';
import { checkTemplate, renderTemplate, type TemplateEngine } from '../channels/webhook-template.js';

export interface TemplateTask {
  /** `check`: only parse it, as when it is saved; the result's error is what is wrong. */
  mode: 'render' | 'check';
  source: string;
  scope: Record<string, unknown>;
  engine?: TemplateEngine;
  html?: boolean;
  /** With `html`: the output is the plain text a person reads of the rendered HTML. */
  text?: boolean;
  /** Told when the render starts, so the pool's wall clock counts running, not queueing. */
  started: MessagePort;
}

/** The render's output, or why it failed (a TemplateError's message, e.g. a limit). */
export type TemplateResult = { output: string } | { error: string };

export default function renderTask(task: TemplateTask): TemplateResult {
  task.started.postMessage('started');
  try {
    if (task.mode === 'check') {
      const problem = checkTemplate(task.source, task.engine);
      return problem === null ? { output: '' } : { error: problem };
    }
    const output = renderTemplate(task.source, task.scope, task.engine, task.html);
    return { output: task.html && task.text ? textFromHtml(output) : output };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}
