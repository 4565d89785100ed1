// SCMP_ACT_NOTIFY: hand the seccomp listener fd to the agent at linux.seccomp.listenerPath
// (runtime-spec config-linux.md, "seccomp notify"). skiff-init loads the filter and passes the fd
// up the init socket (MSG_SECCOMP_FD); the runtime, which knows the container state, connects to
// listenerPath and sends one message: the container process state JSON with the fd as SCM_RIGHTS.
import type { Spec } from '../oci/types';
import { SkiffError } from './errors';
import { native } from './native';
import { OCI_VERSION, type OciState } from './state';

/** The runtime-spec's ContainerProcessState (specs-go/state.go). */
export interface ContainerProcessState {
  ociVersion: string;
  /** Names of the fds sent with the message, in order. */
  fds: string[];
  /** The process the filter applies to. */
  pid: number;
  /** linux.seccomp.listenerMetadata, opaque to the runtime. */
  metadata?: string;
  state: OciState;
}

/** Send `fd` and the state to listenerPath, then close our copy of `fd` whatever happens. */
export function sendSeccompListener(spec: Spec, fd: number, processPid: number, state: OciState): void {
  const n = native();
  try {
    const seccomp = spec.linux?.seccomp;
    const path = seccomp?.listenerPath;
    if (!path) throw new SkiffError('seccomp', 'ENOTIFY', 'seccomp notify: the filter gave a listener fd but linux.seccomp.listenerPath is not set');
    const message: ContainerProcessState = {
      ociVersion: OCI_VERSION,
      fds: ['seccompFd'],
      pid: processPid,
      ...(seccomp.listenerMetadata ? { metadata: seccomp.listenerMetadata } : {}),
      state,
    };
    try {
      n.unixSendFd(path, fd, Buffer.from(JSON.stringify(message)));
    } catch (e) {
      throw new SkiffError('seccomp', 'ENOTIFY', `seccomp notify: send the listener fd to listenerPath: ${(e as Error).message}`);
    }
  } finally {
    n.close(fd);
  }
}
