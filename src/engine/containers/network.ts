// Container networking, per attachment in the record's Networks: "host" shares the host's network
// namespace (nothing to do); "none" gets its own namespace with only the loopback interface, up (as
// Docker's none; the supervisor does it, from a child that joins the namespace). Bridges will add
// their own kinds here (veth, addresses, DNS), after create and before the container's process starts.

import { ContainerError } from './errors';
import { loopbackUp } from './supervisor';
import type { ContainerDoc } from './types';

export function setupNetwork(doc: ContainerDoc, dir: string, initPid: number): void {
  for (const [name, net] of Object.entries(doc.Networks)) {
    if (net.Mode === 'host') continue;
    if (net.Mode === 'none') {
      loopbackUp(dir, initPid);
      continue;
    }
    throw new ContainerError('EUSAGE', `network ${name} (${net.Mode}) is not supported yet`);
  }
}
