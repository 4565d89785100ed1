// --format of every dock command, as docker's formatter does it: a Go template (template.ts) with
// docker's extra functions; "table" prints a header row (the template run on the column names) and
// aligns the tab-separated cells like Go's tabwriter (minimum width 10, padding 3); "json" is
// {{json .}}; `\t` and `\n` written literally in the argument become a tab and a newline.

import { formatValue, NO_VALUE, Template, TemplateError, type TemplateFunc } from './template';

const text = (v: unknown) => (v === NO_VALUE || v === undefined ? '' : typeof v === 'string' ? v : formatValue(v));

/** docker/cli's templates.basicFunctions. */
export const dockerFuncs: Record<string, TemplateFunc> = {
  // encoding/json with SetEscapeHTML(false), without the trailing newline.
  json: (v) => JSON.stringify(v === NO_VALUE || v === undefined ? null : v, (_k, x) => (x === NO_VALUE ? null : x)) ?? 'null',
  split: (s, sep) => String(s).split(String(sep)),
  join: (a, sep) => {
    if (!Array.isArray(a)) throw new Error(`wrong type for value; expected []string; got ${typeof a}`);
    return a.map(text).join(String(sep));
  },
  title: (s) => String(s).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, p: string, c: string) => p + c.toUpperCase()),
  lower: (s) => String(s).toLowerCase(),
  upper: (s) => String(s).toUpperCase(),
  pad: (s, prefix, suffix) => ' '.repeat(Number(prefix)) + String(s) + ' '.repeat(Number(suffix)),
  truncate: (s, n) => ([...String(s)].length > Number(n) ? [...String(s)].slice(0, Number(n)).join('') : String(s)),
};

/** docker's headerFunctions: in a table header every function gives back the column name. */
const headerFuncs: Record<string, TemplateFunc> = Object.fromEntries(Object.keys(dockerFuncs).map((k) => [k, (v: unknown) => text(v)]));

function prepare(format: string): { tpl: string; table: boolean } {
  let tpl = format;
  const table = /^table(\s|$)/.test(tpl);
  if (table) tpl = tpl.slice(5);
  tpl = tpl.trim() === 'json' ? '{{json .}}' : tpl.replace(/^ +| +$/g, '');
  return { tpl: tpl.replace(/\\t/g, '\t').replace(/\\n/g, '\n'), table };
}

/** Parses a --format template (a TemplateError, exit status 125, when it is not valid). */
export function parseFormat(format: string, header = false): Template {
  try {
    return Template.parse(format, header ? headerFuncs : dockerFuncs);
  } catch (e) {
    if (e instanceof TemplateError) throw Object.assign(new TemplateError(`template parsing error: ${e.message}`), { dockExit: 125 });
    throw e;
  }
}

function executed(t: Template, data: unknown, strict: boolean): string {
  try {
    return t.execute(data, { strict });
  } catch (e) {
    if (e instanceof TemplateError) throw Object.assign(e, { dockExit: 125 });
    throw e;
  }
}

/**
 * List output (ps, images, volume ls...): `format` (the user's, or the command's default, usually a
 * "table ..."). Rows are docker's formatter contexts: a field they lack is an error. `headers`
 * names the columns (a field not named there is headed by its name in capitals).
 */
export function renderFormat(format: string, rows: Array<Record<string, unknown>>, headers: Record<string, string>): string {
  const { tpl, table } = prepare(format);
  const t = parseFormat(tpl);
  const lines = rows.map((r) => executed(t, r, true));
  if (!table) return lines.map((l) => l + '\n').join('');
  const names = new Set([...Object.keys(headers), ...rows.flatMap((r) => Object.keys(r))]);
  // Methods like .Label "key" take arguments: every header cell is a function of any arguments.
  const head = Object.fromEntries([...names].map((n) => [n, () => headers[n] ?? n.toUpperCase()]));
  lines.unshift(executed(parseFormat(tpl, true), head, true));
  return columns(lines.join('\n').split('\n').map((l) => l.split('\t'))) + '\n';
}

/** Go's tabwriter with docker's settings (minwidth 10, padding 3): the last cell of a line is not padded. */
export function columns(rows: string[][]): string {
  const widths: number[] = [];
  const len = (s: string) => [...s].length;
  for (const r of rows) r.forEach((c, i) => i < r.length - 1 && (widths[i] = Math.max(widths[i] ?? 0, len(c) + 3, 10)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i] - len(c)))).join('')).join('\n');
}

/** inspect -f: the template run on each document (JSON-shaped, so missing keys are "<no value>"), one line each. */
export function renderFormatDeep(format: string, docs: unknown[]): string {
  const { tpl } = prepare(format);
  const t = parseFormat(tpl);
  return docs.map((d) => executed(t, d, false) + '\n').join('');
}
