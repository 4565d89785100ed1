// Container networking, per attachment in the record's Networks: "host" shares the host's network
// namespace (nothing to do); "none" gets its own namespace with only the loopback interface, up (as
// Docker's none). Bridges will add their own kinds here (veth, addresses, DNS), after create and
// before the container's process starts.

import { execFileSync } from 'node:child_process';
import { ContainerError } from './errors';
import type { ContainerDoc } from './types';

export function setupNetwork(doc: ContainerDoc, initPid: number): void {
  for (const [name, net] of Object.entries(doc.Networks)) {
    if (net.Mode === 'host') continue;
    if (net.Mode === 'none') {
      try {
        execFileSync('nsenter', [`--net=/proc/${initPid}/ns/net`, 'ip', 'link', 'set', 'lo', 'up'], { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (e) {
        const why = ((e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message).trim();
        throw new ContainerError('ERUNTIME', `bring up the loopback interface of the container: ${why}`);
      }
      continue;
    }
    throw new ContainerError('EUSAGE', `network ${name} (${net.Mode}) is not supported yet`);
  }
}
