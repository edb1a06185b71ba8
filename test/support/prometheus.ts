import assert from 'node:assert/strict';

/** One sample line: `name{label="value",…} value [timestamp]`. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  readonly help: string;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count', ''],
};

/**
 * Parses the Prometheus text exposition format (0.0.4) strictly: every sample belongs to a family
 * declared by `# TYPE` before it, label values are unescaped (`\\`, `\"`, `\n`), values may be
 * `+Inf`, `-Inf` or `NaN`, and a histogram's buckets must be cumulative, ending in `+Inf` = `_count`.
 * Anything else fails the assertion that called it.
 */
export function parseExposition(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const helps = new Map<string, string>();
  let current: MetricFamily | undefined;
  assert.ok(text.endsWith('\n'), 'the exposition ends with a line feed');
  for (const [index, line] of text.split('\n').entries()) {
    const where = `line ${index + 1}: ${line}`;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (match === null) continue; // a plain comment
      const [, keyword, name, rest] = match as unknown as [string, string, string, string];
      assert.match(name, NAME, where);
      if (keyword === 'HELP') helps.set(name, rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\'));
      else {
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest), `${where}: unknown type`);
        assert.ok(!families.has(name), `${where}: family declared twice`);
        current = { name, type: rest as MetricFamily['type'], help: helps.get(name) ?? '', samples: [] };
        families.set(name, current);
      }
      continue;
    }
    const sample = parseSample(line, where);
    assert.ok(current !== undefined, `${where}: sample before any # TYPE`);
    const suffix = sample.name.slice(current.name.length);
    assert.ok(
      sample.name.startsWith(current.name) && (SUFFIXES[current.type] ?? ['']).includes(suffix),
      `${where}: sample does not belong to family ${current.name} (${current.type})`,
    );
    current.samples.push(sample);
  }
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function parseSample(line: string, where: string): Sample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  assert.ok(nameMatch !== null, `${where}: no metric name`);
  const name = nameMatch[0];
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at++;
    while (line[at] !== '}') {
      const labelMatch = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(at));
      assert.ok(labelMatch !== null && LABEL_NAME.test(labelMatch[1]!), `${where}: bad label at ${at}`);
      at += labelMatch[0].length;
      let value = '';
      for (;;) {
        const char = line[at];
        assert.ok(char !== undefined, `${where}: unterminated label value`);
        at++;
        if (char === '"') break;
        if (char === '\\') {
          const escaped = line[at++];
          assert.ok(escaped === '\\' || escaped === '"' || escaped === 'n', `${where}: bad escape \\${escaped}`);
          value += escaped === 'n' ? '\n' : escaped;
        } else value += char;
      }
      assert.ok(!(labelMatch[1]! in labels), `${where}: label ${labelMatch[1]} twice`);
      labels[labelMatch[1]!] = value;
      if (line[at] === ',') at++;
      else assert.equal(line[at], '}', `${where}: expected , or } after a label`);
    }
    at++;
  }
  const rest = line.slice(at).trim().split(/\s+/);
  assert.ok(rest.length === 1 || rest.length === 2, `${where}: expected a value and an optional timestamp`);
  const value = parseValue(rest[0]!, where);
  if (rest.length === 2) assert.match(rest[1]!, /^-?\d+$/, `${where}: bad timestamp`);
  return { name, labels, value };
}

/** As Prometheus reads values (Go's ParseFloat): `NaN` and `Inf` in any case, so prom-client's `Nan` too. */
function parseValue(raw: string, where: string): number {
  if (/^\+?inf(inity)?$/i.test(raw)) return Infinity;
  if (/^-inf(inity)?$/i.test(raw)) return -Infinity;
  if (/^nan$/i.test(raw)) return NaN;
  const value = Number(raw);
  assert.ok(raw !== '' && !Number.isNaN(value), `${where}: bad value '${raw}'`);
  return value;
}

function checkHistogram(family: MetricFamily): void {
  const series = new Map<string, Sample[]>();
  for (const sample of family.samples) {
    const { le: _le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    series.set(key, [...(series.get(key) ?? []), sample]);
  }
  for (const [key, samples] of series) {
    const buckets = samples.filter((sample) => sample.name.endsWith('_bucket'));
    const count = samples.find((sample) => sample.name.endsWith('_count'));
    assert.ok(buckets.length > 0 && count !== undefined, `${family.name}${key}: buckets and _count`);
    let previous = -Infinity;
    let previousCount = 0;
    for (const bucket of buckets) {
      const le = parseValue(bucket.labels['le'] ?? '', `${family.name} le`);
      assert.ok(le > previous, `${family.name}${key}: le ascending`);
      assert.ok(bucket.value >= previousCount, `${family.name}${key}: buckets cumulative`);
      previous = le;
      previousCount = bucket.value;
    }
    assert.equal(previous, Infinity, `${family.name}${key}: last bucket is +Inf`);
    assert.equal(previousCount, count.value, `${family.name}${key}: +Inf bucket = _count`);
  }
}

/** The value of the one sample named `name` whose labels include `labels`; 0 when there is none. */
export function valueOf(families: ReadonlyMap<string, MetricFamily>, name: string, labels: Readonly<Record<string, string>> = {}): number {
  const matching = [...families.values()]
    .flatMap((family) => family.samples)
    .filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  assert.ok(matching.length <= 1, `${name} ${JSON.stringify(labels)} matches ${matching.length} samples`);
  return matching[0]?.value ?? 0;
}
