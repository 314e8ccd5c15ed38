import { ConfigError } from '@twinbox/config';
import { EXIT } from './exit-codes.js';

/** An error the CLI reports with a given exit code, its message meant for the user as is. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

const AUTH_CODES = new Set(['AUTH_FAILED', 'AUTH_CONFIG', 'OAUTH_REFRESH_FAILED', 'PASSWORD_COMMAND_FAILED']);

/** The exit code for an error that ended a command. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof ConfigError) return EXIT.CONFIG;
  const { name, code } = (err ?? {}) as { name?: string; code?: unknown };
  if (name === 'StateLockedError' || code === 'STATE_LOCKED') return EXIT.LOCKED;
  if (typeof code === 'string' && (AUTH_CODES.has(code) || code.startsWith('AUTH'))) return EXIT.AUTH;
  return EXIT.STORE;
}
