// Errors of image operations above the store and the registry client (usage mistakes, refusals).

export type ImageErrorCode = 'EUSAGE' | 'EINUSE' | 'EBOOTSTRAP' | 'EPUSH';

export class ImageError extends Error {
  readonly domain = 'image' as const;
  readonly code: ImageErrorCode;
  constructor(code: ImageErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ImageError';
    this.code = code;
  }
}
