/**
 * Starter templates (GET /api/v1/template-starters), of our own writing, after the three
 * k6 Cloud offered: Generic (every value of its template context, as JSON), Slack/Microsoft
 * Teams (a message both services' incoming webhooks take) and Email notification (a custom
 * e-mail's subject and HTML). Each comes in Jinja2, what k6 Cloud users bring, and in Liquid.
 * A starter is the `config` keys it fills in on a channel of its type; the form merges them.
 */

export type TemplateEngine = 'liquid' | 'jinja2';

export interface Starter {
  id: string;
  name: string;
  description: string;
  /** The channel type whose `config` the starter fills in. */
  channel_type: 'webhook' | 'email';
  engine: TemplateEngine;
  /** The keys it sets: `template_engine` and the type's template keys. */
  config: Record<string, string>;
}

const GENERIC_JINJA2 = `{
  "test": {
    "organization_id": {{ test.organization_id | tojson }},
    "project_id": {{ test.project_id | tojson }},
    "id": {{ test.id | tojson }},
    "url": {{ test.url | tojson }},
    "load_test_id": {{ test.load_test_id | tojson }},
    "load_test_url": {{ test.load_test_url | tojson }},
    "name": {{ test.name | tojson }},
    "was_scheduled": {{ test.was_scheduled | tojson }},
    "started": {{ test.started | tojson }},
    "ended": {{ test.ended | tojson }},
    "status": {{ test.status | tojson }},
    "status_text": {{ test.status_text | tojson }},
    "result": {{ test.result | tojson }},
    "result_text": {{ test.result_text | tojson }}
  },
  "user": {
    "id": {{ user.id | tojson }},
    "name": {{ user.name | tojson }},
    "avatar": {{ user.avatar | tojson }}
  },
  "event": {
    "id": {{ event.id | tojson }},
    "type": {{ event.type | tojson }},
    "text": {{ event.text | tojson }}
  },
  "errors": [{% for error in errors %}
    {"code": {{ error.code | tojson }}, "created": {{ error.created | tojson }}, "detail": {{ error.detail | tojson }}}{{ "," if not loop.last }}{% endfor %}
  ]
}
`;

/** The same document in Liquid: `json` for `tojson`, `forloop` for `loop`. */
const GENERIC_LIQUID = GENERIC_JINJA2.replaceAll('| tojson', '| json').replace(
  '{{ "," if not loop.last }}',
  '{% unless forloop.last %},{% endunless %}',
);

/**
 * `{"text": ...}` is the one body both Slack's incoming webhooks and Teams' older
 * incoming-webhook connectors (what k6 Cloud's Teams channel posted to) take. Slack reads
 * `<url|label>` links and `*bold*`; Teams shows them as written, which still reads well.
 * Teams' Workflows URLs want an Adaptive Card: the `msteams` channel type sends one.
 */
const CHAT_JINJA2 = `{%- if test.result == 1 or errors | length > 0 %}{% set mark = ":red_circle:" %}{% elif event.type.startswith("test.started") %}{% set mark = ":arrow_forward:" %}{% else %}{% set mark = ":large_green_circle:" %}{% endif -%}
{%- set name = test.name | replace("&", "&amp;") | replace("<", "&lt;") | replace(">", "&gt;") -%}
{%- set what = test.status_text if event.type == "<any>" else event.text -%}
{%- set text -%}
{{ mark }} *{{ name }}*: {{ what }}{% if test.result_text %} ({{ test.result_text }}){% endif %}
<{{ test.url }}|Open run {{ test.id }}>{% for error in errors %}{{ "\\n• " ~ error.detail }}{% endfor %}
{%- endset -%}
{"text": {{ text | tojson }}}
`;

const CHAT_LIQUID = `{%- if test.result == 1 or errors.size > 0 %}{% assign mark = ":red_circle:" %}{% elsif event.type contains "test.started" %}{% assign mark = ":arrow_forward:" %}{% else %}{% assign mark = ":large_green_circle:" %}{% endif -%}
{%- assign name = test.name | replace: "&", "&amp;" | replace: "<", "&lt;" | replace: ">", "&gt;" -%}
{%- assign what = event.text -%}{%- if event.type == "<any>" %}{% assign what = test.status_text %}{% endif -%}
{%- capture text -%}
{{ mark }} *{{ name }}*: {{ what }}{% if test.result_text %} ({{ test.result_text }}){% endif %}
<{{ test.url }}|Open run {{ test.id }}>{% for error in errors %}
• {{ error.detail }}{% endfor %}
{%- endcapture -%}
{"text": {{ text | json }}}
`;

const SUBJECT_JINJA2 =
  '[{{ test.status_text if event.type == "<any>" else event.text }}] {{ test.name }}{% if test.result_text %}: {{ test.result_text }}{% endif %}';
const SUBJECT_LIQUID =
  '[{% if event.type == "<any>" %}{{ test.status_text }}{% else %}{{ event.text }}{% endif %}] {{ test.name }}{% if test.result_text %}: {{ test.result_text }}{% endif %}';

/** An HTML template's `{{ }}` output is escaped for it (see renderTemplate). */
const EMAIL_JINJA2 = `<!DOCTYPE html>
<html><body style="font-family: Helvetica, Arial, sans-serif; font-size: 14px; color: #222">
<h2 style="color: {% if test.result == 1 %}#c62828{% else %}#2e7d32{% endif %}">{{ test.name }}: {{ test.status_text if event.type == "<any>" else event.text }}</h2>
<table cellpadding="4">
<tr><th align="left">Status</th><td>{{ test.status_text }}</td></tr>
<tr><th align="left">Result</th><td>{{ test.result_text }}</td></tr>
<tr><th align="left">Started</th><td>{{ test.started }}</td></tr>
<tr><th align="left">Ended</th><td>{{ test.ended }}</td></tr>
<tr><th align="left">Scheduled</th><td>{% if test.was_scheduled == 1 %}yes{% else %}no{% endif %}</td></tr>
<tr><th align="left">Started by</th><td>{{ user.name }}</td></tr>
</table>
{%- if errors | length > 0 %}
<h3>Errors</h3>
<ul>{% for error in errors %}
<li>{{ error.created }} ({{ error.code }}): {{ error.detail }}</li>{% endfor %}
</ul>
{%- endif %}
<p><a href="{{ test.url }}">Open run {{ test.id }}</a> · <a href="{{ test.load_test_url }}">Open the load test</a></p>
</body></html>
`;

const EMAIL_LIQUID = `<!DOCTYPE html>
<html><body style="font-family: Helvetica, Arial, sans-serif; font-size: 14px; color: #222">
<h2 style="color: {% if test.result == 1 %}#c62828{% else %}#2e7d32{% endif %}">{{ test.name }}: {% if event.type == "<any>" %}{{ test.status_text }}{% else %}{{ event.text }}{% endif %}</h2>
<table cellpadding="4">
<tr><th align="left">Status</th><td>{{ test.status_text }}</td></tr>
<tr><th align="left">Result</th><td>{{ test.result_text }}</td></tr>
<tr><th align="left">Started</th><td>{{ test.started }}</td></tr>
<tr><th align="left">Ended</th><td>{{ test.ended }}</td></tr>
<tr><th align="left">Scheduled</th><td>{% if test.was_scheduled == 1 %}yes{% else %}no{% endif %}</td></tr>
<tr><th align="left">Started by</th><td>{{ user.name }}</td></tr>
</table>
{%- if errors.size > 0 %}
<h3>Errors</h3>
<ul>{% for error in errors %}
<li>{{ error.created }} ({{ error.code }}): {{ error.detail }}</li>{% endfor %}
</ul>
{%- endif %}
<p><a href="{{ test.url }}">Open run {{ test.id }}</a> · <a href="{{ test.load_test_url }}">Open the load test</a></p>
</body></html>
`;

const ENGINE_WORDS: Record<TemplateEngine, string> = { jinja2: 'Jinja2', liquid: 'Liquid' };

function both(
  id: string,
  name: string,
  description: string,
  channelType: Starter['channel_type'],
  config: Record<TemplateEngine, Record<string, string>>,
): Starter[] {
  return (['jinja2', 'liquid'] as const).map((engine) => ({
    id: `${id}-${engine}`,
    name: `${name} (${ENGINE_WORDS[engine]})`,
    description,
    channel_type: channelType,
    engine,
    config: { template_engine: engine, ...config[engine] },
  }));
}

export const STARTERS: readonly Starter[] = [
  ...both(
    'generic',
    'Generic',
    'A webhook body in JSON with every value of the template context: test, user, event and errors.',
    'webhook',
    { jinja2: { template: GENERIC_JINJA2 }, liquid: { template: GENERIC_LIQUID } },
  ),
  ...both(
    'slack-teams',
    'Slack/Microsoft Teams',
    'A webhook body for a Slack incoming webhook (or a Teams incoming-webhook connector, where one still works): one message with the test, what happened, a link and any errors. For a Teams Workflows URL, use the Microsoft Teams channel type.',
    'webhook',
    { jinja2: { template: CHAT_JINJA2 }, liquid: { template: CHAT_LIQUID } },
  ),
  ...both(
    'email',
    'Email notification',
    'A subject and an HTML body for an e-mail channel: the run’s status, result, times, who started it, errors and links.',
    'email',
    {
      jinja2: { subject_template: SUBJECT_JINJA2, html_template: EMAIL_JINJA2 },
      liquid: { subject_template: SUBJECT_LIQUID, html_template: EMAIL_LIQUID },
    },
  ),
];
