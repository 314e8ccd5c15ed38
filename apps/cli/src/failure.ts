import { ConfigError } from '@twinbox/config';
import { AUTH_ERROR_CODES } from '@twinbox/driver-imap/auth-codes';
import { CliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';

export { CliError };

/**
 * The driver's own list (from its module that imports nothing: no imapflow is loaded), not a copy: a
 * copy once said `OAUTH_REFRESH_FAILED` where the driver throws `OAUTH2_REFRESH_FAILED`, and a revoked
 * refresh token exited 4 as an unreachable server.
 */
const AUTH_CODES: ReadonlySet<string> = new Set(Object.values(AUTH_ERROR_CODES));

/** The exit code for an error that ended a command (or a plain `{ name, code }` a daemon reported). */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof ConfigError) return EXIT.CONFIG;
  const { name, code } = (err ?? {}) as { name?: string; code?: unknown };
  // Codes as a daemon passes them on: a config it could not read, a pair it does not have.
  if (code === 'CONFIG_INVALID' || code === 'UNKNOWN_PAIR') return EXIT.CONFIG;
  if (name === 'StateLockedError' || code === 'STATE_LOCKED') return EXIT.LOCKED;
  if (typeof code === 'string' && (AUTH_CODES.has(code) || code.startsWith('AUTH'))) return EXIT.AUTH;
  return EXIT.STORE;
}
