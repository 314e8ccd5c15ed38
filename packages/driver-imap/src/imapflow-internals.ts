import type { ImapFlow } from 'imapflow';

/**
 * The few parts of imapflow 2.10's connection that the driver uses below its public API, typed once
 * here: `exec` sends a command and hands its untagged answers to the handlers given, `untaggedHandlers`
 * is the table for unsolicited ones. The driver goes this way where imapflow's own commands cost too
 * much or cannot say what is needed: the listings' and body reads' FETCH (fetch-rows.ts), MULTIAPPEND
 * (multiappend.ts), LIST with MAILBOXID (mailbox-ids.ts) and NOTIFY (watch.ts). The package pins
 * imapflow's version, and the tests that run each of these against Dovecot fail if these shapes change.
 */

/** A token of a command or of a server's answer, as imapflow's compiler takes and its parser gives it. */
export type Attribute =
  | { type?: string; value?: unknown; section?: unknown; isLiteral8?: boolean }
  | Attribute[]
  | null
  | undefined;

/** An untagged answer (`* …`) as imapflow parsed it. */
export interface Untagged {
  attributes?: Attribute[];
}

/** Handlers of the untagged answers that come while the command runs, by keyword (`FETCH`, `LIST`). */
export type UntaggedHandlers = Record<string, ((untagged: Untagged) => unknown) | null | undefined>;

export interface ExecOptions {
  untagged?: UntaggedHandlers;
}

/** The tagged OK: `next()` lets imapflow send the next queued command; it must always be called. */
export interface TaggedAnswer {
  response?: { attributes?: { section?: { value?: unknown }[] }[] };
  next(): void;
}

/** imapflow's `exec`: queues the command and resolves with the tagged OK (rejects on NO, BAD, a drop). */
export type Exec = (command: string, attributes: Attribute[], options?: ExecOptions) => Promise<TaggedAnswer>;

/** `client.exec`, bound to the client. */
export function execOf(client: ImapFlow): Exec {
  const internal = client as unknown as { exec: Exec };
  return internal.exec.bind(client);
}

/** The client's table of handlers for unsolicited answers (a NOTIFY's STATUS and LIST). */
export function untaggedHandlersOf(client: ImapFlow): UntaggedHandlers {
  return (client as unknown as { untaggedHandlers: UntaggedHandlers }).untaggedHandlers;
}
