// Appends numbered messages in batches until killed. Run by crash.test.ts with the built driver.
import { MaildirDriver } from '../dist/index.js';

const [root, batches] = process.argv.slice(2);
const driver = await MaildirDriver.open({ root });
const enc = new TextEncoder();
process.stdout.write('ready\n');
let n = 0;
for (let b = 0; b < Number(batches); b++) {
  const batch = [];
  for (let i = 0; i < 50; i++, n++) {
    const pad = 'x'.repeat(2000 + (n % 7) * 1000);
    batch.push({
      body: enc.encode(`Message-ID: <${n}@crash>\r\nSubject: ${n}\r\n\r\n${pad}\r\nend ${n}\r\n`),
      flags: n % 2 ? ['\\Seen'] : [],
    });
  }
  const outcomes = await driver.appendMessages(['INBOX'], batch);
  // What the state would record: only what the driver reported written.
  process.stdout.write(`${outcomes.filter((o) => o.ok).length}\n`);
}
