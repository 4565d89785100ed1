// The API's one error type and the mapping from the engine's domain errors to Docker's status codes
// (moby's errdefs: not found 404, conflict 409, invalid parameter 400, not implemented 501).
// The body is always Docker's `{"message": "..."}`.

export class ApiError extends Error {
  readonly domain = 'api' as const;
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (m: string) => new ApiError(400, m);
export const notFound = (m: string) => new ApiError(404, m);
export const conflict = (m: string) => new ApiError(409, m);
export const notImplemented = (m: string) => new ApiError(501, m);

const BY_CODE: Record<string, number> = {
  ENOTFOUND: 404,
  ENOIMAGE: 404,
  EAMBIGUOUS: 400,
  EUSAGE: 400,
  EREFERENCE: 400,
  ENOCMD: 400,
  EMOUNT: 400,
  ENAMEINUSE: 409,
  EEXISTS: 409,
  ESTATE: 409,
  EINUSE: 409,
  EBUILTIN: 403,
  EOVERLAP: 403,
  EPORTINUSE: 500,
  EUNAUTHORIZED: 401,
  EDENIED: 403,
  ECONTEXT: 400,
  EPARSE: 400,
  EARCHIVE: 400,
  ELAYER: 400,
  ENOTSUP: 501,
};

/**
 * dockerd's capital in "No such image/container: X": Docker's SDKs match that text (docker-py turns
 * a 404 into ImageNotFound only when it says "No such image", and compose then builds or pulls).
 */
function dockerText(message: string): string {
  return message.replace(/^no such (image|container|exec instance)\b/, (m) => 'N' + m.slice(1));
}

/** The status and message Docker would give for an error thrown by the engine. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { domain?: string; code?: string; message?: string };
  if (e && typeof e.domain === 'string') {
    let status = (e.code && BY_CODE[e.code]) || 500;
    // A registry that does not know the image: Docker answers pull with 404.
    if (e.domain === 'registry' && e.code === 'ENOTFOUND') status = 404;
    if (e.domain === 'registry' && e.code === 'ENETWORK') status = 500;
    return new ApiError(status, dockerText(e.message ?? String(err)));
  }
  return new ApiError(500, `unexpected error: ${e?.message ?? String(err)}`);
}
