// The VS Code end-to-end test, run by tests/vscode/run.sh against a code-server it started with
// the packaged extension installed: headless Chromium (playwright-core) types and clicks as a
// person would, and every step asserts on what the editor shows and on the file it saves.
//
//   1. a JSONL dataset with HTML and a link: the diagnostics show in the Problems panel;
//   2. the quick fix for `<b>` applies (Ctrl+.);
//   3. "voicetune: Fix all safe problems in this file" from the palette fixes the rest;
//   4. "voicetune: Train a voice locally" (the real model): its progress notification's Cancel
//      button stops it with a checkpoint, and the status bar shows the running job; "Show
//      fine-tuning jobs" lists it as cancelled;
//   5. in a markdown draft, a suggestion of the real local model shows as ghost text after
//      typing, and Tab accepts it.
// Screenshots go to $E2E_OUT (target/vscode-e2e/screenshots); the README uses some.
//
// Environment: E2E_URL (code-server), E2E_WORKSPACE (the folder it opened, prepared by run.sh),
// E2E_OUT, E2E_PLAYWRIGHT (playwright-core's folder), E2E_CHROMIUM (the browser).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.E2E_PLAYWRIGHT);
const url = process.env.E2E_URL;
const workspace = process.env.E2E_WORKSPACE;
const out = process.env.E2E_OUT;
const started = Date.now();
const log = (...args) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...args);

function check(condition, message) {
  if (!condition) {
    throw new Error(`assertion failed: ${message}`);
  }
}

/** The editor's visible text, one string per line (word wrap is off, so one per document
 * line), non-breaking spaces as spaces. */
async function editorLines(page) {
  const lines = await page.locator('.monaco-editor .view-lines .view-line').evaluateAll((nodes) =>
    nodes
      .map((n) => ({ top: parseFloat(n.style.top || '0'), text: n.textContent }))
      .sort((a, b) => a.top - b.top)
      .map((l) => l.text),
  );
  return lines.map((l) => l.replace(/\u00a0/g, ' '));
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(out, `${name}.png`) });
  log('screenshot', `${name}.png`);
}

async function quickInput(page, opener, text, rowText) {
  await page.keyboard.press(opener);
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await page.keyboard.type(text, { delay: 5 });
  // Enter acts on what the widget has taken in, which can lag behind the keys typed.
  await page.waitForFunction(
    (t) => document.querySelector('.quick-input-widget input')?.value.endsWith(t),
    text,
  );
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: rowText ?? text })
    .first()
    .waitFor({ timeout: 30000 });
  await page.keyboard.press('Enter');
}

async function openFile(page, name) {
  await quickInput(page, 'Control+P', name);
  await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 30000 });
  await page.locator('.monaco-editor .view-lines').first().waitFor();
  log('opened', name);
}

async function palette(page, command) {
  // F1 opens the palette with its `>` prefix.
  await quickInput(page, 'F1', command);
}

async function save(page) {
  await page.keyboard.press('Control+S');
  await page.waitForTimeout(500);
}

const dataset = path.join(workspace, 'tea.jsonl');
const draft = path.join(workspace, 'notebook.md');

const context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(out, '..', 'chromium-')), {
  executablePath: process.env.E2E_CHROMIUM,
  headless: true,
  viewport: { width: 1400, height: 860 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
let page;
try {
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') {
      fs.appendFileSync(path.join(out, 'browser-console.log'), m.text() + '\n');
    }
  });
  await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 90000 });
  await page.locator('.explorer-folders-view, .explorer-viewlet').first().waitFor({ timeout: 60000 });
  log('workbench loaded');

  // 1. Diagnostics in the Problems panel.
  await openFile(page, 'tea.jsonl');
  await page.locator('.monaco-editor .squiggly-warning').first().waitFor({ timeout: 120000 });
  log('squiggles shown');
  await page.keyboard.press('Control+Shift+M');
  const problems = page.locator('.markers-panel');
  await problems.locator('.monaco-list-row', { hasText: 'VT102' }).first().waitFor({ timeout: 30000 });
  const problemsText = await problems.innerText();
  for (const expected of ['VT101', 'VT102', '<b>', 'https://example.com/tea']) {
    check(problemsText.includes(expected), `the Problems panel shows ${expected}:\n${problemsText}`);
  }
  await shot(page, 'problems');

  // 2. The quick fix for `<b>`, from the light bulb menu at the tag: its row in the Problems
  // panel puts the cursor at the tag (a typed line:column would count the emoji and the
  // combining accents before it differently from the server's UTF-16 columns).
  const first = fs.readFileSync(dataset, 'utf8').split('\n')[0];
  const column = first.indexOf('<b>') + 1; // 1-based UTF-16, as the server reports it
  check(problemsText.includes(`[Ln 1, Col ${column}]`), `<b> at column ${column}:\n${problemsText}`);
  await problems.locator('.monaco-list-row', { hasText: 'HTML tag `<b>`' }).first().click();
  await page.keyboard.press('Enter');
  await page.locator('.monaco-editor.focused').first().waitFor({ timeout: 10000 });
  await page.keyboard.press('Control+.');
  const fix = page.locator('.action-widget .monaco-list-row', { hasText: 'Remove `<b>`' }).first();
  await fix.waitFor({ timeout: 30000 });
  await shot(page, 'quick-fix');
  await fix.click();
  await page.waitForFunction(
    () => !document.querySelector('.monaco-editor .view-lines').textContent.includes('<b>'),
    null,
    { timeout: 30000 },
  );
  let lines = await editorLines(page);
  check(lines[0].includes('I love green tea</b>'), `only the <b> tag went: ${lines[0]}`);
  log('quick fix applied:', lines[0]);

  // 3. Fix all, from the palette: the closing tag, the link and the <p> tags go.
  await palette(page, 'voicetune: Fix all safe problems in this file');
  await page.waitForFunction(
    () => {
      const text = document.querySelector('.monaco-editor .view-lines').textContent;
      return !text.includes('</b>') && !text.includes('https://') && !text.includes('<p>');
    },
    null,
    { timeout: 60000 },
  );
  lines = await editorLines(page);
  log('fix all applied:', lines[0]);
  await save(page);
  const saved = fs.readFileSync(dataset, 'utf8');
  const records = saved.trimEnd().split('\n');
  check(records.length === 12, `12 records after fix all, got ${records.length}`);
  for (const record of records) {
    const answer = JSON.parse(record).messages[1].content;
    check(!/<\/?[a-z]+>|https?:\/\//.test(answer), `a clean answer: ${answer}`);
  }
  check(JSON.parse(records[0]).messages[1].content.startsWith('I love green tea'), records[0]);
  check(JSON.parse(records[0]).messages[0].content.includes('😀 tea from 中国'), 'the user turn is untouched');
  await page.locator('.markers-panel .monaco-list-row', { hasText: 'VT101' }).first()
    .waitFor({ state: 'detached', timeout: 30000 });
  await shot(page, 'fixed');

  // 4. Train locally from the palette: the voice's name in an input box, the server's progress
  //    as a notification whose Cancel button stops the run (at its next step, with a checkpoint).
  await palette(page, 'voicetune: Train a voice locally');
  // The input box replaces the palette in the same widget: wait for its proposed name.
  await page.waitForFunction(
    () => document.querySelector('.quick-input-widget input')?.value === 'tea',
    null,
    { timeout: 30000 },
  );
  await page.keyboard.press('Enter');
  const training = page.locator('.notification-toast', { hasText: 'voicetune: train tea' }).first();
  await training.locator('.notification-list-item-message', { hasText: 'step' }).first().waitFor({ timeout: 300000 });
  await page.locator('.statusbar-item', { hasText: 'tea' }).first().waitFor({ timeout: 30000 });
  await shot(page, 'train-progress');
  await training.locator('.monaco-button', { hasText: 'Cancel' }).first().click();
  const cancelled = page.locator('.notification-toast', { hasText: 'cancelled at step' }).first();
  await cancelled.waitFor({ timeout: 120000 });
  log('training cancelled:', (await cancelled.innerText()).split('\n')[0]);
  check(fs.existsSync(path.join(workspace, '.voicetune/voices/tea/checkpoint')), 'a checkpoint was saved');
  await palette(page, 'Notifications: Clear All Notifications');
  // The job is listed; following the chosen one ends at once with its final state.
  await palette(page, 'voicetune: Show fine-tuning jobs');
  const job = page.locator('.quick-input-list .monaco-list-row', { hasText: 'local-tea-' }).first();
  await job.waitFor({ timeout: 30000 });
  check((await job.innerText()).includes('cancelled'), `the job is listed as cancelled: ${await job.innerText()}`);
  await shot(page, 'jobs');
  await page.keyboard.press('Enter');
  await page.locator('.notification-toast', { hasText: /job local-tea-\d+ cancelled/ }).first().waitFor({ timeout: 30000 });
  await palette(page, 'Notifications: Clear All Notifications');

  // 5. Ghostwriting: type at the end of the draft, wait for the ghost text, accept with Tab.
  await openFile(page, 'notebook.md');
  await page.locator('.monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+End');
  await page.keyboard.press('ArrowUp'); // the draft ends with a newline: to the last text line
  await page.keyboard.press('End');
  await page.keyboard.type(' and', { delay: 30 });
  const before = fs.readFileSync(draft, 'utf8').trimEnd().split('\n').pop() + ' and';
  const ghost = page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text').first();
  // The first suggestion also loads the model (a debug build of the server takes a while).
  await ghost.waitFor({ timeout: 360000 });
  const shown = (await ghost.innerText()).replace(/\u00a0/g, ' ');
  log('ghost text:', JSON.stringify(shown));
  check(shown.trim() !== '', 'a suggestion is shown');
  await shot(page, 'ghost-text');
  await page.keyboard.press('Tab');
  await ghost.waitFor({ state: 'detached', timeout: 30000 });
  lines = await editorLines(page);
  const accepted = lines.filter((l) => l.startsWith(before));
  check(accepted.length === 1, `the typed line is in the editor: ${JSON.stringify(lines)}`);
  check(accepted[0] === before + shown, `Tab inserted the suggestion: ${JSON.stringify(accepted[0])} vs ${JSON.stringify(before + shown)}`);
  await save(page);
  const draftLines = fs.readFileSync(draft, 'utf8').split('\n');
  check(draftLines.includes(before + shown), `the saved draft has the accepted line:\n${draftLines.join('\n')}`);
  await shot(page, 'accepted');

  // The voice picker and the status bar, for the README.
  await palette(page, 'voicetune: Select the voice that ghostwrites');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Base model' }).first().waitFor({ timeout: 30000 });
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'katie' }).first().waitFor({ timeout: 30000 });
  await shot(page, 'select-voice');
  await page.keyboard.press('Escape');
  const status = await page.locator('.statusbar').innerText();
  check(status.includes('base model'), `the status bar shows the voice: ${status}`);
  log('PASS');
} catch (e) {
  if (page) {
    await shot(page, 'failure').catch(() => {});
  }
  console.error('FAIL', e);
  process.exitCode = 1;
} finally {
  await context.close();
}
