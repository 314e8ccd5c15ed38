/**
 * An error the CLI reports with a given exit code, its message meant for the user as is. A module of
 * its own, loading nothing: the commands' definitions use it, and they must stay light (see
 * daemon.ts).
 */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}
