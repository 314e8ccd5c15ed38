/**
 * The codes of the errors by which the driver says that a login failed or that its credentials could not
 * be had. An app treats them all as one outcome (`twinbox` exits 3) and reads them from here rather than
 * spelling them again: the CLI once looked for `OAUTH_REFRESH_FAILED` while the driver threw
 * `OAUTH2_REFRESH_FAILED`, and a failed refresh exited as an unreachable server. This module imports
 * nothing, so an app can read it (`@twinbox/driver-imap/auth-codes`) without loading imapflow.
 */
export const AUTH_ERROR_CODES = {
  /** The server refused the login. */
  refused: 'AUTH_FAILED',
  /** The credentials are set wrongly: no source, two sources, an unset variable, a bad pin. */
  config: 'AUTH_CONFIG',
  /** `passwordCommand` exited non-zero, could not run, or printed nothing. */
  passwordCommand: 'PASSWORD_COMMAND_FAILED',
  /** The command of an OAuth2 secret (`refreshTokenCommand`, `clientSecretCommand`) failed so. */
  secretCommand: 'SECRET_COMMAND_FAILED',
  /** The token endpoint gave no access token for the refresh token (revoked, network, bad answer). */
  oauth2Refresh: 'OAUTH2_REFRESH_FAILED',
} as const;

/** One of the codes of {@link AUTH_ERROR_CODES}. */
export type AuthErrorCode = (typeof AUTH_ERROR_CODES)[keyof typeof AUTH_ERROR_CODES];
