// The CLI's side of a running twinboxd: `twinbox sync` and `twinbox status` ask it rather than open the
// pairs it holds (their states are locked by it, its sessions logged in). This module and what it
// imports stay light (the control socket's client, the reporter, commander): no config schema, no
// driver, no imapflow, so that a sync through the daemon costs Node's start and a round trip. The
// exit-code mapping (failure.ts) loads the config package, hence imported only when a pair failed.
import {
  type ControlClient,
  ControlError,
  connectControl,
  controlSocketPath,
  type PairStatus,
} from '@twinbox/config/control';
import { CliError } from './cli-error.js';
import type { Context } from './context.js';
import { EXIT } from './exit-codes.js';

/**
 * The variable that, set to 1, keeps the CLI from going through a daemon, as `--no-daemon` does
 * (quick.ts reads it too, without loading this module).
 */
export const NO_DAEMON_ENV = 'TWINBOX_NO_DAEMON';

/**
 * The daemon serving the config this command reads, or undefined when there is none (or the user said
 * `--no-daemon`, or `--inline`, which asks for a sync in this process): then the command runs here.
 */
export async function findDaemon(ctx: Context): Promise<ControlClient | undefined> {
  if (ctx.options.daemon === false || ctx.options.inline) return undefined;
  const env = process.env[NO_DAEMON_ENV];
  if (env && env !== '0') return undefined;
  let path: string;
  try {
    path = controlSocketPath(ctx.configPath);
  } catch {
    // No socket path fits (a runtime directory too long): no daemon can serve there either.
    return undefined;
  }
  try {
    return await connectControl(path);
  } catch (err) {
    throw new CliError(
      `${(err as Error).message} To run without the daemon: twinbox --no-daemon … (the pairs it syncs stay locked until it stops).`,
      EXIT.STORE,
    );
  }
}

async function exitCodeOf(err: { name?: string; code?: string | undefined }): Promise<number> {
  return (await import('./failure.js')).exitCodeOf(err);
}

/**
 * `twinbox sync` through the daemon: the same progress, report, JSON lines and exit code as a sync
 * run here, from the daemon's replies. Ctrl-C stops waiting (exit 130); the daemon finishes the sync
 * in flight.
 */
export async function syncThroughDaemon(
  ctx: Context,
  client: ControlClient,
  pairs: string[],
  options: { folder?: string[]; dryRun?: boolean },
): Promise<number> {
  const dryRun = options.dryRun === true;
  const { pid } = client.hello;
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    ctx.reporter.error(
      `${name}: stopped waiting; twinboxd (pid ${pid}) finishes the sync in flight (twinbox status shows it).`,
    );
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let exit: number = EXIT.OK;
  const failed: (string | undefined)[] = [];
  try {
    await client.sync(
      {
        pairs,
        ...(options.folder?.length ? { folders: options.folder } : {}),
        ...(dryRun ? { dryRun } : {}),
        // Only what the output shows: a plain or quiet run prints nothing of a batch's per-message
        // progress and plans, the bulk of the daemon's replies.
        ...(ctx.reporter.events === 'all' ? {} : { events: ctx.reporter.events }),
      },
      (reply) => {
        switch (reply.type) {
          case 'pair-start':
            ctx.reporter.pairStart(
              reply.pair,
              `${reply.title}${dryRun ? ' (dry run: nothing is changed)' : ''}`,
            );
            break;
          case 'event':
            ctx.reporter.event(reply.pair, reply.event);
            break;
          case 'pair-done':
            ctx.reporter.pairDone(reply.pair, reply.report, reply.seconds, dryRun);
            if (reply.report.totals.errors > 0) exit = Math.max(exit, EXIT.PARTIAL);
            if (reply.report.aborted) exit = EXIT.INTERRUPTED;
            break;
          case 'pair-error':
            ctx.reporter.error(`${reply.pair}: ${reply.message}`, { pair: reply.pair, code: reply.code });
            // Mapped once the sync is over: the mapping loads the config package.
            failed.push(reply.code);
            break;
        }
      },
      controller.signal,
    );
    for (const code of failed) exit = Math.max(exit, await exitCodeOf({ code }));
    return exit;
  } catch (err) {
    if (controller.signal.aborted) return EXIT.INTERRUPTED;
    if (err instanceof ControlError && (err.code === 'UNKNOWN_PAIR' || err.code === 'CONFIG_INVALID'))
      throw new CliError(err.message, EXIT.CONFIG);
    throw new CliError(
      `twinboxd (pid ${pid}): ${(err as Error).message}`,
      await exitCodeOf(err as ControlError),
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    client.close();
    ctx.reporter.close();
  }
}

/**
 * `twinbox status` through the daemon: each pair's live state (what the daemon does now, since when,
 * its last sync, error and next attempt, how its sides are watched). Exit code: that of the last error
 * of a pair the daemon is backing off from, else 0.
 */
export async function statusThroughDaemon(
  ctx: Context,
  client: ControlClient,
  names: string[],
): Promise<number> {
  let all: PairStatus[];
  try {
    all = await client.status();
  } catch (err) {
    throw new CliError(`twinboxd (pid ${client.hello.pid}): ${(err as Error).message}`, EXIT.STORE);
  } finally {
    client.close();
  }
  const known = all.map((p) => p.name);
  for (const name of names)
    if (!known.includes(name))
      throw new CliError(
        `${client.hello.config}: no pair named ${JSON.stringify(name)} (pairs: ${known.join(', ')}).`,
        EXIT.CONFIG,
      );
  const shown = names.length ? all.filter((p) => names.includes(p.name)) : all;
  const daemon = { pid: client.hello.pid, version: client.hello.version };
  if (ctx.options.json) {
    process.stdout.write(
      `${JSON.stringify(shown.map(({ name, ...rest }) => ({ pair: name, ...rest, daemon })))}\n`,
    );
  } else {
    for (const s of shown) process.stdout.write(renderLive(s, daemon.pid));
  }
  let exit: number = EXIT.OK;
  for (const s of shown)
    if (s.state === 'backing-off' && s.lastError)
      exit = Math.max(exit, await exitCodeOf({ code: s.lastError.code }));
  return exit;
}

function renderLive(s: PairStatus, pid: number): string {
  const lines = [`${s.name}  (${s.left} ⇄ ${s.right}; twinboxd pid ${pid}: ${s.state} since ${s.since})`];
  if (s.lastSync) {
    const t = s.lastSync.totals;
    lines.push(
      `  last sync ${s.lastSync.finishedAt}${s.lastSync.aborted ? ' (interrupted)' : ''}: copied ${t.copied}, flagged ${t.flagged}, deleted ${t.deleted}, errors ${t.errors}, ${s.lastSync.folders.length} folders`,
    );
  } else {
    lines.push('  never synced');
  }
  for (const side of ['left', 'right'] as const) {
    const w = s.watch?.[side];
    if (!w) continue;
    const what = w.watched === 'all' ? 'every folder' : `${w.watched.length} folders`;
    lines.push(
      `  ${side} watched by ${w.method}: ${what}${w.unwatched.length ? `, ${w.unwatched.length} not watched (polled)` : ''}${w.connections ? `, ${w.connections} connections` : ''}`,
    );
  }
  if (s.lastError)
    lines.push(
      `  last error ${s.lastError.at}: ${s.lastError.message}${s.lastError.code ? ` (${s.lastError.code})` : ''}`,
    );
  if (s.failures > 0) lines.push(`  failures in a row: ${s.failures}`);
  if (s.nextAttemptAt) lines.push(`  next attempt ${s.nextAttemptAt}`);
  return `${lines.join('\n')}\n`;
}
