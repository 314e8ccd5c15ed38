import type { ImapFlow } from 'imapflow';

/** One folder as the server lists it. */
export interface ImapFolder {
  /** Full name in UTF-8 (modified UTF-7 decoded), with the server's delimiter. */
  path: string;
  /** The server's hierarchy delimiter for this folder, or null for a flat namespace. */
  delimiter: string | null;
  /** RFC 6154 special use (`\Sent`, `\Trash`, …), so a pair can map `\Sent` to `\Sent`. */
  specialUse?: string;
  /** False for `\Noselect` folders, which hold children but no messages. */
  selectable: boolean;
  subscribed: boolean;
}

/** Every folder an imapflow session's server lists (LIST), with its delimiter, special use and whether it holds messages. */
export async function listFolders(client: ImapFlow): Promise<ImapFolder[]> {
  const boxes = await client.list();
  return boxes.map((box) => ({
    path: box.path,
    delimiter: box.delimiter ?? null,
    ...(box.specialUse ? { specialUse: box.specialUse } : {}),
    selectable: !box.flags.has('\\Noselect') && !box.flags.has('\\NonExistent'),
    subscribed: box.subscribed ?? false,
  }));
}
