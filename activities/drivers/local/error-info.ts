/**
 * Reading errors without `instanceof Error`: errors from Node built-ins (fs,
 * fetch) may come from another realm (e.g. under jest's module sandbox), where
 * `instanceof Error` is false although they are perfectly ordinary errors.
 */
export interface ErrorInfo {
  name: string;
  message: string;
  code?: string;
  cause?: ErrorInfo;
}

export function errorInfo(err: unknown, depth = 0): ErrorInfo {
  if (typeof err !== 'object' || err === null) return { name: 'Error', message: String(err) };
  const e = err as { name?: unknown; message?: unknown; code?: unknown; cause?: unknown };
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    message: typeof e.message === 'string' ? e.message : 'unknown error',
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(e.cause !== undefined && depth < 3 ? { cause: errorInfo(e.cause, depth + 1) } : {}),
  };
}

export function isErrnoException(err: unknown): err is NodeJS.ErrnoException {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string';
}

/** The most specific code of an error or its cause ("ECONNREFUSED", "UND_ERR_SOCKET"...), else its name. */
export function errorCode(err: unknown): string {
  const info = errorInfo(err);
  return info.code ?? info.cause?.code ?? info.name;
}

/** A short description for messages: a timeout, a code, or the message. */
export function describeError(err: unknown): string {
  const info = errorInfo(err);
  if (info.name === 'TimeoutError') return 'timed out';
  return info.cause?.code ?? info.code ?? info.cause?.message ?? info.message;
}

/**
 * The most specific code and message of an error's cause chain, for messages an operator reads: "ECONNREFUSED:
 * connect ECONNREFUSED 127.0.0.1:9901", "UND_ERR_SOCKET: other side closed", or "timed out".
 */
export function failureDetail(err: unknown): string {
  let info: ErrorInfo | undefined = errorInfo(err);
  if (info.name === 'TimeoutError' || info.cause?.name === 'TimeoutError') return 'timed out';
  let best: ErrorInfo = info;
  for (; info; info = info.cause) if (info.code) best = info;
  return best.code ? `${best.code}: ${best.message}` : describeError(err);
}
