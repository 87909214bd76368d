import { describe, expect, it } from 'vitest';
import { checkTemplate, MEMORY_LIMIT, renderTemplate, RENDER_LIMIT_MS } from './webhook-template.js';

const scope = {
  test: { result: 1, name: 'Checkout', status_text: 'Finished' },
  errors: [
    { code: 1, created: '2026-11-23T10:00:00Z', detail: 'first' },
    { code: 2, created: '2026-11-23T10:01:00Z', detail: 'second' },
  ],
  user: { id: null, name: null, avatar: null },
  event: { id: 'msg_1', type: 'test.finished.failed', text: 'Test failed', name: 'test.finished' },
};
const jinja = (source: string, vars: Record<string, unknown> = scope) =>
  renderTemplate(source, vars, 'jinja2');

describe('Jinja2 templates', () => {
  it("render k6 Cloud's documented examples", () => {
    expect(jinja('{% if test.result == 1 %}red{% else %}green{% endif %}')).toBe('red');
    expect(jinja('{% if test.result == 1 %}red{% else %}green{% endif %}', { test: { result: 0 } })).toBe(
      'green',
    );
    expect(jinja('{% for error in errors %}{{ error.detail }}{{ "," if not loop.last }}{% endfor %}')).toBe(
      'first,second',
    );
    expect(jinja('{{ event.type }} {{ event.text }} {{ errors | length }} {{ test | tojson }}')).toBe(
      'test.finished.failed Test failed 2 {"result": 1, "name": "Checkout", "status_text": "Finished"}',
    );
  });

  it.each([
    ['a\nb\n{% if %}', 'line 3: Unexpected token: CloseStatement'],
    ['a\n{% for x in errors %}', 'line 2: unexpected end of template'],
    ['{\n  "a": "{{ test.name | upcase }}"\n}', 'line 2: undefined filter: upcase'],
    ['ok\n{{ "unterminated }}\nz', 'line 2: Unexpected end of input'],
    ['q\n\n{{ a ! b }}', 'line 3: Unexpected character: !'],
  ])('refuse %j at save time, naming the line: %s', (source, problem) => {
    expect(checkTemplate(source, 'jinja2')).toBe(problem);
  });

  it.each(['{% include "/etc/passwd" %}', '{% import "/etc/passwd" as x %}', '{% extends "/etc/passwd" %}'])(
    'have no file system: %s is refused at save time',
    (source) => {
      expect(jinja('{{ "Jinja" ~ 2 }}')).toBe('Jinja2');
      expect(checkTemplate(source, 'jinja2')).toMatch(/^line 1: /);
    },
  );

  it('keep Liquid the default engine', () => {
    expect(checkTemplate('{% if x %}{% endif %}')).toBeNull();
    expect(checkTemplate('{% if x %}{% endif %}', 'jinja2')).toBeNull();
    expect(checkTemplate('{{ x | upcase }}')).toBeNull();
    expect(checkTemplate('{{ x | upcase }}', 'jinja2')).toBe('line 1: undefined filter: upcase');
  });

  it.each([
    ['{{ test.__proto__ }}|{{ "".constructor }}|{{ test.constructor }}|{{ errors.__proto__ }}', '|||'],
    ['{{ test.constructor.constructor("return process")() }}', /not a function/],
    ['{{ "".constructor.constructor("return process")() }}', /not a function/],
    ['{{ process }}{{ require }}{{ globalThis }}{{ env }}{{ import }}', ''],
    ['{{ test.hasOwnProperty }}{{ test.toString }}{{ test.valueOf }}', ''],
    ['{{ range.constructor }}|{{ namespace.constructor }}', '|'],
  ])('reach nothing but the data they are given: %s', (source, expected) => {
    expect(jinja('{{ "Jinja" ~ 2 }}')).toBe('Jinja2');
    if (typeof expected === 'string') expect(jinja(source)).toBe(expected);
    else expect(() => jinja(source)).toThrow(expected);
  });

  it('see data only, even when handed functions or class instances', () => {
    const hostile = { f: () => 'called', d: new Date(0), nested: { g: () => 'x' } };
    expect(jinja('{{ f }}|{{ d }}|{{ nested.g }}|{{ nested | tojson }}', hostile)).toBe(
      '|1970-01-01T00:00:00.000Z||{}',
    );
  });

  it.each([
    [
      'a huge range',
      '{% for i in range(100000000) %}{{ i }}{% endfor %}',
      /^the template failed: memory limit exceeded: range\(\) may make 1000000 items/,
    ],
    [
      'nested loops',
      '{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}x{% endfor %}{% endfor %}{% endfor %}',
      new RegExp(`^the template failed: time limit exceeded: a render may take ${RENDER_LIMIT_MS} ms$`),
    ],
    [
      'a huge string',
      '{{ "x" | indent(500000000, true) }}',
      new RegExp(
        `^the template failed: memory limit exceeded: one value may hold ${MEMORY_LIMIT} items or characters$`,
      ),
    ],
    [
      'a growing string',
      '{% set ns = namespace(s="xxxxxxxxxx") %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}',
      /^the template failed: memory limit exceeded/,
    ],
  ])('stop %s within the limits', (_, source, reason) => {
    expect(() => jinja(source)).toThrow(reason);
  });
});
