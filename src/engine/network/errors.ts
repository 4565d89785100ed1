// Errors of dock's networks: one class, a machine-readable code, a one-line message that reads well
// after "dock: " (lower-case, what failed, then why).

export type NetworkErrorCode =
  | 'ENOTFOUND' // no network (or endpoint) by that name or id
  | 'EAMBIGUOUS' // an id prefix matches several networks
  | 'EEXISTS' // a network by that name exists, or the container is already connected
  | 'EOVERLAP' // the subnet overlaps another network's
  | 'EPOOL' // no free subnet, or no free address in a subnet
  | 'EPORTINUSE' // a published host port is taken
  | 'EINUSE' // a network with endpoints cannot be removed
  | 'EUSAGE' // a bad value (subnet, gateway, -p string, ...)
  | 'EBUILTIN' // host, none and bridge cannot be removed
  | 'EKERNEL' // netlink refused a link, address or route
  | 'EFIREWALL' // nft / iptables refused the rules
  | 'EDAEMON'; // the DNS server or port proxy did not start

export class NetworkError extends Error {
  readonly domain = 'network' as const;
  readonly code: NetworkErrorCode;
  constructor(code: NetworkErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'NetworkError';
    this.code = code;
  }
}

export const usage = (message: string) => new NetworkError('EUSAGE', message);
