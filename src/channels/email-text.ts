/**
 * The plain-text part of a custom HTML mail: what a person reads of it, links written out.
 * Loaded only by the template workers, which make it beside the HTML (see TemplateJob.text):
 * html-to-text and its parser stay out of the service's own thread.
 */
import { convert } from 'html-to-text';

export function textFromHtml(html: string): string {
  return convert(html, {
    wordwrap: 78,
    selectors: [
      { selector: 'img', format: 'skip' },
      // Layout tables are rare in notification mails; a table here is label and value rows.
      { selector: 'table', format: 'dataTable' },
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
    ],
  });
}
