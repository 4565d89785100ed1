// Errors of dock's containers and volumes: one class, a machine-readable code, a message that reads
// well after "dock: " (lower-case, what failed, then why).

export type ContainerErrorCode =
  | 'ENOTFOUND' // no container (or volume) by that name or id
  | 'EAMBIGUOUS' // an id prefix matches several containers
  | 'ENAMEINUSE' // the name is taken
  | 'ESTATE' // the container is not in a state that allows the operation
  | 'EUSAGE' // a bad flag value
  | 'ENOCMD' // no command: neither the image nor the flags give one
  | 'EMOUNT' // a volume or bind mount cannot be made
  | 'EINUSE' // a volume in use
  | 'ESUPERVISOR' // the supervisor could not be started or reached
  | 'ERUNTIME'; // the runtime failed to run the container

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
