// `network ls --filter` / GET /networks?filters: name (substring), id (prefix), driver, label, type.

import { NetworkError } from './errors';
import type { NetworkSummary } from './manager';

export function filterNetworks(rows: NetworkSummary[], filters: Array<readonly [string, string]>): NetworkSummary[] {
  const byKey = new Map<string, string[]>();
  for (const [k, v] of filters) byKey.set(k, [...(byKey.get(k) ?? []), v]);
  const match = (n: NetworkSummary, k: string, v: string): boolean => {
    switch (k) {
      case 'name':
        return n.Name.includes(v);
      case 'id':
        return n.Id.startsWith(v);
      case 'driver':
        return n.Driver === v;
      case 'label':
        return v.includes('=') ? n.Labels[v.slice(0, v.indexOf('='))] === v.slice(v.indexOf('=') + 1) : v in n.Labels;
      case 'type':
        return v === 'custom' ? n.Bridge !== '' && n.Name !== 'bridge' : v === 'builtin' ? n.Bridge === '' || n.Name === 'bridge' : false;
      default:
        throw new NetworkError('EUSAGE', `unsupported filter "${k}"`);
    }
  };
  // Values of one key are alternatives; different keys must all match (Docker's rule); every label must match.
  return rows.filter((n) => [...byKey].every(([k, vals]) => (k === 'label' ? vals.every((v) => match(n, k, v)) : vals.some((v) => match(n, k, v)))));
}
