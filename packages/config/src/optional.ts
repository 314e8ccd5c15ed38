/*
 * The drivers and the SQLite state are optional peer dependencies: an embedder installs the ones its
 * configs use, so an app that syncs only Maildirs never installs imapflow. Each is imported when a
 * config first needs it; when it is not installed, the error says which package to install rather than
 * how module resolution failed.
 */

/** The packages this one loads only when a config uses them, and what uses each. */
const USED_FOR = {
  '@twinbox/driver-imap': 'this config uses an IMAP account',
  '@twinbox/driver-maildir': 'this config uses a Maildir account',
  '@twinbox/state-sqlite': 'a pair keeps its state in SQLite',
} as const;

/** A package of {@link USED_FOR}. */
export type OptionalPackage = keyof typeof USED_FOR;

/** The code of the error thrown when a config needs a package that is not installed. */
export const PACKAGE_MISSING = 'PACKAGE_MISSING';

/**
 * Whether `err` says that `name` itself cannot be found (not a module it imports: a driver installed
 * without its own dependencies is another fault, reported as it is).
 */
function isMissing(err: unknown, name: OptionalPackage): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  return (
    code === 'ERR_MODULE_NOT_FOUND' &&
    typeof message === 'string' &&
    message.includes(`Cannot find package '${name}'`)
  );
}

/**
 * The error for a package `name` that is missing, `where` (a file and key) first when known:
 * "…: this config uses an IMAP account: install @twinbox/driver-imap …".
 */
export function missingPackage(name: OptionalPackage, where?: string, cause?: unknown): Error {
  const message =
    `${where ? `${where}: ` : ''}${USED_FOR[name]}: install ${name} ` +
    `(npm install ${name}); @twinbox/config loads it only for the configs that need it.`;
  return Object.assign(new Error(message, cause === undefined ? {} : { cause }), { code: PACKAGE_MISSING });
}

/**
 * `load()`, which imports `name` (a literal `import()` in the caller, so that bundlers see it); a
 * missing `name` rejects with {@link missingPackage}'s error.
 */
export async function loadOptional<T>(name: OptionalPackage, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (isMissing(err, name)) throw missingPackage(name, undefined, err);
    throw err;
  }
}

/** Whether `name` can be imported from this package, without loading it. */
export function installed(name: OptionalPackage): boolean {
  try {
    import.meta.resolve(name);
    return true;
  } catch (err) {
    if (isMissing(err, name)) return false;
    throw err;
  }
}
