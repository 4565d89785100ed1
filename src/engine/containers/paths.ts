// Where a container's files live under the engine root:
//
//   <root>/containers/<id>/            the container's directory (the supervisor's cwd)
//       config.json                    the OCI bundle's config (root.path = rootfs)
//       rootfs/                        overlay mount point while the container runs
//       upper/ work/                   its overlay upper and work directories
//       hostname hosts resolv.conf     bind-mounted into the container
//       container.log[.N]              json-file logs, written by the supervisor
//       exit.json                      the last exit, written by the supervisor
//       health.json health.out         health state (dock) and the last check's output
//       ctl.sock console.sock          the supervisor's sockets
//       supervisor.pid supervisor.err  the supervisor's pid and its own diagnostics
//   <root>/runtime/<id>/               the runtime library's state (state.json, exec fifo)
//   <root>/volumes/<name>/_data        named and anonymous volumes

import { join } from 'node:path';

export interface EnginePaths {
  root: string;
  containers: string;
  runtime: string;
  volumes: string;
}

export function enginePaths(root: string): EnginePaths {
  return { root, containers: join(root, 'containers'), runtime: join(root, 'runtime'), volumes: join(root, 'volumes') };
}

export function containerDir(p: EnginePaths, id: string): string {
  return join(p.containers, id);
}

/** A unix socket path must fit in sun_path (108 bytes with its NUL). */
export const SUN_PATH_MAX = 107;
