/**
 * An error a caller can act on, with the stable code documented in the README's error table.
 * Thrown by services and storage; the HTTP layer turns it into API.md's error shape.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what: string) => new AppError(404, 'not_found', `${what} not found`);
export const forbidden = (message: string) => new AppError(403, 'forbidden', message);
export const conflict = (code: string, message: string) => new AppError(409, code, message);
export const badRequest = (code: string, message: string, field?: string) =>
  new AppError(400, code, message, field ? [{ field, message }] : undefined);
