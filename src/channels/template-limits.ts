/**
 * What the service's own thread needs to know of templates (their languages, limits and
 * error type) without loading an engine: liquidjs, @huggingface/jinja and html-to-text are
 * loaded only in the template workers (webhook-template.ts), when a template is first saved
 * or sent; an idle service, or one without templates, never carries them.
 */
export const TEMPLATE_ENGINES = ['liquid', 'jinja2'] as const;
export type TemplateEngine = (typeof TEMPLATE_ENGINES)[number];

export const MAX_TEMPLATE_CHARS = 16 * 1024;
export const MAX_OUTPUT_BYTES = 64 * 1024;
/** Per render; a webhook body that takes longer is a loop, not a message. */
export const RENDER_LIMIT_MS = 500;
/**
 * Ranges, lists and text one render makes, counted as liquidjs counts them (an item or a
 * character each). A range is counted before it is made, so `(1..4900000)` fails at once.
 */
export const MEMORY_LIMIT = 1_000_000;
/** Items one filter may take in a list: a webhook's payload has a few dozen. */
export const MAX_LIST_ITEMS = 10_000;

export class TemplateError extends Error {
  override name = 'TemplateError';
}
