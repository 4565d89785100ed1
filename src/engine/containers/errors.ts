// Errors of dock's containers and volumes: one class, a machine-readable code, a message that reads
// well after "dock: " (lower-case, what failed, then why).

export type ContainerErrorCode =
  | 'ENOTFOUND' // no container (or volume) by that name or id
  | 'EAMBIGUOUS' // an id prefix matches several containers
  | 'ENAMEINUSE' // the name is taken
  | 'EEXISTS' // already so (a container already on a network)
  | 'ESTATE' // the container is not in a state that allows the operation
  | 'EUSAGE' // a bad flag value
  | 'ENOCMD' // no command: neither the image nor the flags give one
  | 'EMOUNT' // a volume or bind mount cannot be made
  | 'EINUSE' // a volume in use
  | 'ESUPERVISOR' // the supervisor could not be started or reached
  | 'ERUNTIME' // the runtime failed to run the container
  | 'ENOTSUP'; // the container's configuration does not offer it (logs of the none log driver)

export class ContainerError extends Error {
  readonly domain = 'container' as const;
  readonly code: ContainerErrorCode;
  constructor(code: ContainerErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ContainerError';
    this.code = code;
  }
}

export const usage = (message: string) => new ContainerError('EUSAGE', message);

/**
 * docker run/exec's exit status for a process that could not be started: 127 when the command is
 * not found, 126 when it cannot be invoked (not executable, a directory, no such working
 * directory), 125 for any other failure of the engine. The message is put in Docker's words.
 */
export function startFailure(e: unknown): { status: 125 | 126 | 127; message: string } {
  const msg = (e as Error)?.message ?? String(e);
  const cwd = /chdir to cwd \("(.*)"\) set in config\.json: (.*)$/.exec(msg);
  if (cwd) return { status: 126, message: msg.slice(0, cwd.index) + `cannot change to the working directory ${cwd[1]}: ${/no such file/.test(cwd[2]) ? 'it does not exist' : cwd[2]}` };
  if (/executable file not found|exec .*: no such file or directory/.test(msg)) return { status: 127, message: msg };
  if (/exec .*: (permission denied|is a directory)/.test(msg)) return { status: 126, message: msg };
  return { status: 125, message: msg };
}
