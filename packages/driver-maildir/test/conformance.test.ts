import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDriverConformance } from '@twinbox/core/testing';
import { MaildirDriver } from '../src/index.js';

for (const layout of ['maildir++', 'fs'] as const) {
  describeDriverConformance(`MaildirDriver (${layout})`, async () => {
    const root = await mkdtemp(join(tmpdir(), 'twinbox-maildir-'));
    return {
      driver: await MaildirDriver.open({ root, layout }),
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  });
}

describeDriverConformance('MaildirDriver (fs, modified UTF-7 names)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'twinbox-maildir-'));
  return {
    driver: await MaildirDriver.open({ root, layout: 'fs', folderNames: 'modified-utf-7' }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describeDriverConformance('MaildirDriver (maildir++, fsync off, separator "_")', async () => {
  const root = await mkdtemp(join(tmpdir(), 'twinbox-maildir-'));
  return {
    driver: await MaildirDriver.open({ root, separator: '_', fsync: false }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
