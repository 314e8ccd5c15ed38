import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Application, Logger, LogLevel, type TypeDocOptions } from 'typedoc';
import { declarationOptions, type EntryPoint } from './api.ts';
import { root } from './workspace.ts';

/** Where the checked-in API reference lives, one Markdown page per entry point. */
export const referenceDir = join(root, 'docs/api');

/** The command that writes the reference again; failures name it. */
export const referenceCommand = 'pnpm build && pnpm docs:api';

/** TypeDoc's warnings and errors, kept to be thrown as one message instead of printed. */
class CollectingLogger extends Logger {
  readonly problems: string[] = [];

  override log(message: string, level: LogLevel): void {
    super.log(message, level);
    if (level >= LogLevel.Warn) this.problems.push(message);
  }
}

/**
 * Writes the API reference of the given entry points into `out`: TypeDoc reads the shipped
 * declarations (what users get, as `api.md` does), typedoc-plugin-markdown writes one page per entry
 * point, named by its import specifier, with links between packages. Rejects, writing nothing, when
 * TypeDoc warns: an export or member without documentation, or a type in the public surface that is
 * not exported.
 */
export async function writeReference(entries: readonly EntryPoint[], out: string): Promise<void> {
  const files = entries.map((e) => e.declarations);
  const options: TypeDocOptions = {
    plugin: [fileURLToPath(import.meta.resolve('typedoc-plugin-markdown'))],
    entryPoints: files,
    out,
    name: 'Twinbox API reference',
    readme: 'none',
    logLevel: 'Warn',
    excludeExternals: true,
    validation: { notDocumented: true, notExported: true, invalidLink: false },
    treatWarningsAsErrors: true,
    // The same output on every machine and at every commit: no source links (they would carry a
    // git revision or an absolute path) and no page header (it would carry a version).
    disableSources: true,
    disableGit: true,
    outputFileStrategy: 'modules',
    hidePageHeader: true,
  } as TypeDocOptions;
  // No option readers: nothing of the cwd's tsconfig.json, typedoc.json or package.json leaks in.
  const app = await Application.bootstrapWithPlugins(options, []);
  const logger = new CollectingLogger();
  logger.level = LogLevel.Warn;
  app.logger = logger;
  app.options.setCompilerOptions(files, declarationOptions, undefined);
  // TypeDoc names a module by its path (`packages/core/dist/testing`); users know it by its specifier.
  const specifiers = new Map(entries.map((e) => [e.declarations, e.specifier]));
  const getEntryPoints = app.getEntryPoints.bind(app);
  app.getEntryPoints = () =>
    getEntryPoints()?.map((e) => ({
      ...e,
      displayName: specifiers.get(e.sourceFile.fileName) ?? e.displayName,
    }));

  const project = await app.convert();
  if (project) app.validate(project);
  if (!project || logger.hasErrors() || logger.hasWarnings()) {
    throw new Error(
      `TypeDoc could not document the public API:\n${logger.problems.join('\n') || '(no message)'}`,
    );
  }
  await app.generateOutputs(project);
  if (logger.hasErrors() || logger.hasWarnings()) {
    throw new Error(`TypeDoc could not write ${out}:\n${logger.problems.join('\n')}`);
  }
}
