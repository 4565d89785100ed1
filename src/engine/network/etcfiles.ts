// The content of a container's /etc/hosts and /etc/resolv.conf (builders only: the containers code
// writes them where its bind mounts read them).

import { usage } from './errors';

export interface HostsInput {
  hostname: string;
  domainname?: string;
  /** The container's own addresses, first first (its name resolves to them). */
  addresses: string[];
  /** --add-host NAME:IP entries (IP "host-gateway" must be resolved by the caller). */
  extraHosts?: Array<{ name: string; ip: string }>;
}

export function buildHosts(i: HostsInput): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'ff00::0\tip6-mcastprefix', 'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters'];
  for (const h of i.extraHosts ?? []) lines.push(`${h.ip}\t${h.name}`);
  const names = i.domainname ? `${i.hostname}.${i.domainname} ${i.hostname}` : i.hostname;
  if (i.addresses.length) for (const a of i.addresses) lines.push(`${a}\t${names}`);
  else lines.push(`127.0.1.1\t${names}`);
  return lines.join('\n') + '\n';
}

/** --add-host "name:ip" (Docker also accepts "name=ip"); the IP may be "host-gateway". */
export function parseAddHost(s: string): { name: string; ip: string } {
  const sep = s.includes('=') ? s.indexOf('=') : s.indexOf(':');
  const name = s.slice(0, sep).trim();
  const ip = s.slice(sep + 1).trim();
  if (sep <= 0 || !ip || !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(name)) {
    throw usage(`invalid --add-host "${s}": expected NAME:IP`);
  }
  if (ip !== 'host-gateway' && !/^[\d.]+$/.test(ip) && !ip.includes(':')) {
    throw usage(`invalid --add-host "${s}": "${ip}" is not an IP address`);
  }
  return { name, ip };
}

export interface ParsedResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): ParsedResolvConf {
  const out: ParsedResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...vals] = line.split(/\s+/);
    if (key === 'nameserver' && vals[0]) out.nameservers.push(vals[0]);
    else if (key === 'search' || key === 'domain') out.search = vals;
    else if (key === 'options') out.options.push(...vals);
  }
  return out;
}

const isLoopback = (ns: string) => ns.startsWith('127.') || ns === '::1';

export interface ResolvInput {
  /** The host's resolv.conf (of the engine's host network namespace). */
  host: ParsedResolvConf;
  /** The DNS server of a user-defined network (its bridge address); undefined on the default bridge. */
  embeddedDns?: string;
  /** --dns, --dns-search, --dns-option. */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
}

/**
 * Docker's rules: on a user-defined network the container asks the engine's DNS server (which
 * forwards to --dns servers or the host's); on the default bridge it gets --dns or the host's
 * servers, without loopback ones (unreachable from the container), falling back to Google's.
 */
export function buildResolvConf(i: ResolvInput): string {
  const search = i.dnsSearch?.length ? i.dnsSearch : i.host.search;
  let servers: string[];
  let options = i.dnsOptions?.length ? [...i.dnsOptions] : i.host.options.filter((o) => !o.startsWith('ndots'));
  if (i.embeddedDns) {
    servers = [i.embeddedDns];
    if (!options.some((o) => o.startsWith('ndots'))) options = [...options, 'ndots:0'];
  } else if (i.dns?.length) {
    servers = i.dns;
  } else {
    servers = i.host.nameservers.filter((n) => !isLoopback(n));
    if (!servers.length) servers = ['8.8.8.8', '8.8.4.4'];
  }
  const lines = servers.map((s) => `nameserver ${s}`);
  if (search.length && !(search.length === 1 && search[0] === '.')) lines.push(`search ${search.join(' ')}`);
  if (options.length) lines.push(`options ${options.join(' ')}`);
  return lines.join('\n') + '\n';
}
