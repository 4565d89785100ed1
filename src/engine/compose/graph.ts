// The services' dependency graph: depends_on and network_mode/ipc/pid service:X (X must run first).
// Start order is dependencies first; stop order is the reverse. A cycle is refused, naming it.

import { ComposeError } from './errors';
import type { Project, Service } from './model';

export function dependenciesOf(s: Service): string[] {
  const deps = Object.keys(s.depends_on ?? {});
  for (const mode of [s.network_mode, s.ipc, s.pid]) if (mode?.startsWith('service:')) deps.push(mode.slice(8));
  return [...new Set(deps)];
}

/** Checks that every dependency names a service and that there is no cycle. */
export function checkGraph(p: Project, disabled: Record<string, Service> = {}): void {
  for (const [name, s] of Object.entries(p.services)) {
    for (const d of dependenciesOf(s)) {
      if (p.services[d]) continue;
      const required = s.depends_on?.[d]?.required ?? true;
      if (!required) continue;
      const why = disabled[d] ? `service ${d} is not enabled by the active profiles` : `undefined service ${d}`;
      const key = (['network_mode', 'ipc', 'pid'] as const).find((k) => s[k] === `service:${d}` && !s.depends_on?.[d]) ?? 'depends_on';
      throw new ComposeError('EMODEL', `services.${name}.${key}: service "${name}" depends on ${why}`);
    }
  }
  startOrder(p, Object.keys(p.services));
}

/**
 * The services to start for `targets` (with their dependencies unless noDeps), dependencies first;
 * services of one level keep their file order.
 */
export function startOrder(p: Project, targets: string[], o: { noDeps?: boolean } = {}): string[] {
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]) => {
    const st = state.get(name);
    if (st === 'done') return;
    if (st === 'visiting') {
      const cycle = [...path.slice(path.indexOf(name)), name];
      throw new ComposeError('EMODEL', `dependency cycle between services: ${cycle.join(' -> ')}`);
    }
    state.set(name, 'visiting');
    const s = p.services[name];
    if (s && !o.noDeps) for (const d of dependenciesOf(s)) if (p.services[d]) visit(d, [...path, name]);
    state.set(name, 'done');
    if (s) out.push(name);
  };
  for (const t of targets) visit(t, []);
  return out;
}
