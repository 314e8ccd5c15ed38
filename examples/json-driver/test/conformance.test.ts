import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDriverConformance } from '@twinbox/core/testing';
import { expect, it } from 'vitest';
import { JsonDirDriver } from '../src/json-dir-driver.ts';

// Core's conformance suite, unchanged: the same one Twinbox's own drivers pass.
describeDriverConformance('JsonDirDriver', async () => {
  const root = await mkdtemp(join(tmpdir(), 'twinbox-json-'));
  return {
    driver: await JsonDirDriver.open(root),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

it('lists a file it cannot read as a refused name rather than leaving it out', async () => {
  const root = await mkdtemp(join(tmpdir(), 'twinbox-json-'));
  try {
    const driver = await JsonDirDriver.open(root);
    await writeFile(join(root, 'broken.json'), '{ not json');
    const listed = await driver.listFolders();
    expect(listed).toContainEqual({ path: ['INBOX'], selectable: true });
    expect(listed).toContainEqual(
      expect.objectContaining({ refused: 'broken.json', code: 'FOLDER_UNREADABLE' }),
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
