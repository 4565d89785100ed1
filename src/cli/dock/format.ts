// --format templates of every command.

export /** Go-template subset for --format: {{.Field}}, {{json .}}, {{json .Field}}, "table" header. */
function renderFormat(format: string, rows: Array<Record<string, unknown>>, headers: Record<string, string>): string {
  let tpl = format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const table = tpl.startsWith('table');
  if (table) tpl = tpl.slice(5).trimStart();
  const render = (row: Record<string, unknown>, header: boolean) =>
    tpl.replace(/\{\{\s*(json\s+)?\.([A-Za-z0-9_]*)\s*\}\}/g, (_m, json: string | undefined, field: string) => {
      if (header) return field ? (headers[field] ?? field.toUpperCase()) : '';
      const v = field ? row[field] : row;
      if (json) return JSON.stringify(v);
      return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    });
  const lines = rows.map((r) => render(r, false));
  if (table) lines.unshift(render({}, true));
  return lines.length ? (table ? columns(lines.map((l) => l.split('\t'))) : lines.join('\n')) + '\n' : '';
}

export function columns(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3))).join('')).join('\n');
}

export /** --format for inspect: {{.State.Status}}, {{json .Config.Env}}, nested fields. */
function renderFormatDeep(format: string, docs: Array<Record<string, unknown>>): string {
  const tpl = format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  return docs
    .map(
      (d) =>
        tpl.replace(/\{\{\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*\}\}/g, (_m, json: string | undefined, path: string) => {
          let v: unknown = d;
          for (const k of path.split('.').filter(Boolean)) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
          if (json) return JSON.stringify(v ?? null);
          return v === undefined || v === null ? '<no value>' : typeof v === 'object' ? JSON.stringify(v) : String(v);
        }) + '\n',
    )
    .join('');
}
