/**
 * What may differ between a sample output in the docs and what the command prints today, written
 * once. Everything else must be equal: a byte count, a header, a worker count or an order that
 * drifts fails the doc test.
 *
 * Each rule names a field by a pattern with one group: in the expected line that group's text
 * may be anything the rule accepts in the actual line (`accept`), and `check` may still compare
 * the two values (a timing within its tolerance). Pids are remembered, so a later command that
 * names a pid from the docs (`kill -HUP 19770`) is sent to the real one.
 */

export interface Field {
  readonly rule: string;
  readonly expected: string;
  readonly actual: string;
}

interface Rule {
  readonly name: string;
  /** Finds the field in an expected line: group 1 is the variable part. */
  readonly pattern: RegExp;
  /** What the actual line may hold there (a regular expression's source). */
  readonly accept: string;
  /** A further comparison of the two values; a message when they are too far apart. */
  readonly check?: (expected: string, actual: string) => string | null;
}

/** Within ±50 % or ±250 ms, whichever is wider: a 2 s wait stays a 2 s wait, 0 stays near 0. */
function closeInTime(expected: string, actual: string): string | null {
  const want = Number(expected);
  const got = Number(actual);
  const tolerance = Math.max(250, want * 0.5);
  return Math.abs(got - want) <= tolerance ? null : `${got} ms is not about ${want} ms`;
}

/** A page that shows pids and ports is a few bytes longer or shorter as their digits vary. */
function closeInBytes(expected: string, actual: string): string | null {
  const slack = 16;
  return Math.abs(Number(actual) - Number(expected)) <= slack
    ? null
    : `${actual} bytes is not ${expected} (±${slack} for the pids and ports the page shows)`;
}

const NUMBER = String.raw`\d+`;
const DECIMAL = String.raw`\d+(?:\.\d+)?`;

export const RULES: readonly Rule[] = [
  // Dates and times: the gateway's log, HTTP's Date header, nginx's log, `date +%T`.
  {
    name: "log time",
    pattern: /\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4})\]/g,
    accept: String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}`,
  },
  {
    name: "HTTP date",
    pattern: /^(?:< )?Date: (\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT)$/g,
    accept: String.raw`\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT`,
  },
  {
    name: "nginx log time",
    pattern: /\[(\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\]/g,
    accept: String.raw`\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}`,
  },
  { name: "clock", pattern: /^(\d\d:\d\d:\d\d) /g, accept: String.raw`\d\d:\d\d:\d\d` },
  // The arbiter's event log in `gateway status`: a time to the millisecond, the kind, a pid.
  {
    name: "event time",
    pattern: /^(\d\d:\d\d:\d\d\.\d{3}) /g,
    accept: String.raw`\d\d:\d\d:\d\d\.\d{3}`,
  },
  { name: "pid", pattern: /^\d\d:\d\d:\d\d\.\d{3} [a-z_]+ (\d+) /g, accept: NUMBER },
  // Pids: the log's [pid] column and the places the gateway and ps name one.
  { name: "pid", pattern: /\] \[(\d+)\] \[/g, accept: NUMBER },
  { name: "pid", pattern: /pid: ?(\d+)/g, accept: NUMBER },
  { name: "pid", pattern: /Listening at: \S+ \((\d+)\)/g, accept: NUMBER },
  { name: "pid", pattern: /worker-pid">(\d+)/g, accept: NUMBER },
  { name: "pid", pattern: /^\s*(\d+) +\d+ +(?:\\_ )?gateway: /g, accept: NUMBER },
  { name: "pid", pattern: /^\s*\d+ +(\d+) +(?:\\_ )?gateway: /g, accept: NUMBER },
  // The client's port, and the versions of the tools on the machine.
  { name: "client port", pattern: /REMOTE_PORT = "(\d+)"/g, accept: NUMBER },
  { name: "curl version", pattern: /curl\/(\d[\d.]*)/g, accept: String.raw`\d[\d.]*` },
  { name: "nginx version", pattern: /nginx\/(\d[\d.]*)/g, accept: String.raw`\d[\d.]*` },
  // Timings.
  { name: "timing", pattern: /X-Elapsed-Ms: (\d+(?:\.\d+)?)/g, accept: DECIMAL },
  { name: "timing", pattern: /waited (\d+) ms/g, accept: NUMBER, check: closeInTime },
  { name: "timing", pattern: /(?:upstream|request)_time=(\d+\.\d+)/g, accept: DECIMAL },
  // The size of a page that shows pids and ports.
  { name: "page size", pattern: /count-bytes: (\d+) bytes/g, accept: NUMBER, check: closeInBytes },
  // `gateway status`: the master's and each worker's pid, uptime, heartbeat and memory.
  { name: "pid", pattern: /^master (\d+) \[/g, accept: NUMBER },
  { name: "uptime", pattern: / up (\d[\dhms.]*) /g, accept: String.raw`\d[\dhms.]*` },
  { name: "pid", pattern: /^(\d+) \d+ \d+ [a-z]+ \d+ /g, accept: NUMBER },
  {
    name: "uptime",
    pattern: /^\d+ \d+ \d+ [a-z]+ \d+ (\d[\dhms.]*) /g,
    accept: String.raw`\d[\dhms.]*`,
  },
  { name: "heartbeat", pattern: /(\d+(?:\.\d+)?s) ago/g, accept: String.raw`\d+(?:\.\d+)?s` },
  { name: "memory", pattern: /(\d+(?:\.\d+)?) MB\b/g, accept: DECIMAL },
  // Docker: addresses on its networks, and container ids (short or full).
  {
    name: "docker address",
    pattern: /\b(172\.\d+\.\d+\.\d+)\b/g,
    accept: String.raw`\d+\.\d+\.\d+\.\d+`,
  },
  {
    name: "container id",
    pattern: /\b([0-9a-f]{12}(?:[0-9a-f]{52})?)\b/g,
    accept: "[0-9a-f]{12,64}",
  },
];

/**
 * Lines a command prints that the docs leave out on purpose: curl -v's notes about the
 * connection (`* Trying …`), and `docker compose`'s progress lines.
 */
const UNSHOWN = [/^\* /, /^\{ \[\d+ bytes data\]$/];

export function shownLines(output: string): string[] {
  // eslint-disable-next-line no-control-regex -- terminal escapes (docker compose's line erasing)
  const lines = output.replace(/\r|\x1b\[[0-9;]*[A-Za-z]/g, "").split("\n");
  while (lines.length > 0 && lines.at(-1)!.trim() === "") lines.pop();
  return lines.filter((line) => !UNSHOWN.some((pattern) => pattern.test(line)));
}

/**
 * Columns line up differently with longer pids or service names: runs of spaces count as one,
 * and so does a line's indentation.
 */
function squeeze(line: string): string {
  return line.replace(/[ \t]+/g, " ").trim();
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

interface Matcher {
  regex: RegExp;
  rules: Rule[];
  expected: string[];
}

function matcherFor(expectedLine: string): Matcher {
  const line = squeeze(expectedLine);
  const spans: { start: number; end: number; rule: Rule; text: string }[] = [];
  for (const rule of RULES) {
    for (const match of line.matchAll(new RegExp(rule.pattern.source, "gd"))) {
      const text = match[1]!;
      const [start, end] = match.indices![1]!;
      if (spans.some((span) => start < span.end && end > span.start)) continue;
      spans.push({ start, end, rule, text });
    }
  }
  spans.sort((a, b) => a.start - b.start);
  let source = "^";
  let at = 0;
  for (const span of spans) {
    source += escape(line.slice(at, span.start)) + `(${span.rule.accept})`;
    at = span.end;
  }
  source += escape(line.slice(at)) + "$";
  return {
    regex: new RegExp(source),
    rules: spans.map((span) => span.rule),
    expected: spans.map((span) => span.text),
  };
}

/** The fields that differ by a rule when `actual` matches `expected`, or null when it does not. */
export function matchLine(expected: string, actual: string): Field[] | null {
  const { regex, rules, expected: values } = matcherFor(expected);
  const match = regex.exec(squeeze(actual));
  if (match === null) return null;
  const fields: Field[] = [];
  for (const [index, rule] of rules.entries()) {
    const field = { rule: rule.name, expected: values[index]!, actual: match[index + 1]! };
    if (rule.check?.(field.expected, field.actual) != null) return null;
    fields.push(field);
  }
  return fields;
}

/** Why a value that matched its rule's shape was still refused (for the failure message). */
export function refusal(expected: string, actual: string): string | null {
  const { regex, rules, expected: values } = matcherFor(expected);
  const match = regex.exec(squeeze(actual));
  if (match === null) return null;
  for (const [index, rule] of rules.entries()) {
    const why = rule.check?.(values[index]!, match[index + 1]!);
    if (why != null) return `${rule.name}: ${why}`;
  }
  return null;
}

/** A line of `...` in a sample stands for any number of lines the docs leave out. */
export function isEllipsis(line: string): boolean {
  return line.trim() === "..." || line.trim() === "…";
}

/**
 * Matches a whole sample against an output: every line in order, `...` skipping any lines.
 * With `excerpt`, the sample may also start and end anywhere in the output (a log excerpt).
 * Returns the fields that differed by rule, or null.
 */
export function matchLines(expected: string[], actual: string[], excerpt: boolean): Field[] | null {
  // A compose log excerpt shows some services' lines: the others, interleaved, are left out.
  const services = expected
    .filter((line) => !isEllipsis(line))
    .map((line) => /^(\S+-\d+) +\| /.exec(line)?.[1]);
  if (excerpt && services.length > 0 && services.every((service) => service !== undefined))
    actual = actual.filter((line) => services.includes(/^(\S+-\d+) +\| /.exec(line)?.[1] ?? ""));
  const pattern = excerpt ? ["...", ...expected, "..."] : expected;
  const memo = new Map<string, Field[] | null>();
  function from(e: number, a: number): Field[] | null {
    const key = `${e},${a}`;
    if (memo.has(key)) return memo.get(key)!;
    let result: Field[] | null = null;
    if (e === pattern.length) result = a === actual.length ? [] : null;
    else if (isEllipsis(pattern[e]!)) {
      for (let skip = a; skip <= actual.length && result === null; skip++)
        result = from(e + 1, skip);
    } else if (a < actual.length) {
      const fields = matchLine(pattern[e]!, actual[a]!);
      if (fields !== null) {
        const rest = from(e + 1, a + 1);
        if (rest !== null) result = [...fields, ...rest];
      }
    }
    memo.set(key, result);
    return result;
  }
  return from(0, 0);
}
