/**
 * Exit codes of `twinbox`, documented in the README and `twinbox --help`. Scripts (cron, systemd)
 * tell a config mistake from a flaky server from a half-done sync by these.
 */
export const EXIT = {
  /** Everything done. `check`: no difference. */
  OK: 0,
  /** Done, but some messages or folders failed (each is reported); the next sync retries them. */
  PARTIAL: 1,
  /** The config file is missing or invalid, or names a pair or account that does not exist. */
  CONFIG: 2,
  /** A server refused the login, or the credentials could not be obtained. */
  AUTH: 3,
  /** A store could not be reached or used (network, TLS, a missing Maildir), or the state failed. */
  STORE: 4,
  /** Another twinbox is syncing the same pair (its state is locked). */
  LOCKED: 5,
  /** `check` found differences between the two sides. */
  DIFFERENCES: 6,
  /** Bad command line. */
  USAGE: 64,
  /** Stopped by Ctrl-C (SIGINT) or SIGTERM; what was transferred is recorded. */
  INTERRUPTED: 130,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0    success (check: no differences)
  1    partial failure: some messages or folders failed, each reported; the next sync retries them
  2    config error: missing or invalid config, unknown pair or account
  3    authentication failure
  4    a store or the state could not be used (network, TLS, missing Maildir, disk)
  5    another twinbox is syncing the same pair
  6    check found differences
  64   bad command line
  130  interrupted (Ctrl-C or SIGTERM); what was transferred is recorded`;
