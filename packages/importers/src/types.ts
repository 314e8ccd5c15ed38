/** One thing an import could not carry over exactly, or did in a way worth knowing. */
export interface ImportNote {
  /** `warning`: behaviour differs or something was left out; `info`: translated, read once. */
  level: 'warning' | 'info';
  /** Where it comes from in the source file, e.g. `Channel work: Patterns`, `Repository remote: nametrans`. */
  key: string;
  message: string;
}

/** What an import produced: a Twinbox config and everything worth telling about it. */
export interface ImportResult {
  /** TOML text, commented, valid for `parseConfig`. The warnings are repeated at its top. */
  config: string;
  /** Every option that was not translated exactly, by name. Nothing is dropped without a note. */
  notes: ImportNote[];
}

/** What `importMbsync` and `importOfflineImap` need besides the source file's text. */
export interface ImportOptions {
  /** The source file's path, named in the config's header. */
  file?: string | undefined;
  /**
   * The directory the other program resolved relative paths against (it ran there; usually the home
   * directory). Default: relative paths are written as `~/…`.
   */
  home?: string | undefined;
}
