export { formatMaildirName, type MaildirName, parseMaildirName } from './filename.js';
