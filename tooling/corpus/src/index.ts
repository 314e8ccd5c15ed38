export {
  type AssignInput,
  type Assignment,
  assignMessage,
  CORPUS_FOLDERS,
  CORPUS_KEYWORD,
  type CorpusFolder,
  folderPath,
  folderTree,
} from './assign.js';
export {
  type CorpusMessage,
  type CorpusOptions,
  corpusDataDir,
  corpusFiles,
  corpusSize,
  parseMailDate,
  prepareMessage,
  readCorpus,
  stripMboxFromLine,
  toCrlf,
} from './corpus.js';
export { type ImapTarget, type LoadOptions, type LoadReport, loadIntoImap } from './imap.js';
export { type MaildirOptions, maildirFolderDir, maildirInfo, writeMaildir } from './maildir.js';
export { formatReport, progressPrinter } from './summary.js';
