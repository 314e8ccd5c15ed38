import type { ImportNote } from './types.js';

/** Collects notes in the order they were found; one note per key and message. */
export class Notes {
  readonly list: ImportNote[] = [];
  readonly #seen = new Set<string>();

  warn(key: string, message: string): void {
    this.#add({ level: 'warning', key, message });
  }

  info(key: string, message: string): void {
    this.#add({ level: 'info', key, message });
  }

  #add(note: ImportNote): void {
    const id = `${note.key}\0${note.message}`;
    if (this.#seen.has(id)) return;
    this.#seen.add(id);
    this.list.push(note);
  }
}
