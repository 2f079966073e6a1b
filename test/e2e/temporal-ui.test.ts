/**
 * A person using the Temporal UI: real Chromium (Debian's, driven by
 * playwright-core) against the real UI served by the dev server. Start a
 * blue-green deployment from the Start Workflow form, wait for its approval
 * gate, send `approve` from the signal form, and see it complete.
 * Screenshots are kept in test-artifacts/ui/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { expectZeroDowntime } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';
import { temporalUiUrl } from '../support/temporal';

const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts', 'ui');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let browser: Browser;
let page: Page;
let f: Fixture;

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Types JSON into a CodeMirror editor without its bracket auto-closing getting in the way. */
async function typeJson(editor: string, value: unknown): Promise<void> {
  await page.click(editor);
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(JSON.stringify(value));
}

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  f = await createFixture('ui');
  await f.startInProcessWorker();
});

afterAll(async () => {
  await browser?.close();
  await f?.close();
});

test('start a blue-green deployment from the UI, approve it from the signal form, see it complete', async () => {
  const ui = temporalUiUrl();
  const workflowId = `deploy-test-${f.application}`;
  const input = { spec: f.spec('1.0.0', { strategy: { approval: { mode: 'required', timeout: '10m' } } }) };
  const load = f.load();
  try {
    // Given: the Start Workflow form.
    await page.goto(`${ui}/namespaces/default/workflows/start-workflow`, { waitUntil: 'domcontentloaded' });
    await page.fill('#workflowId', workflowId);
    await page.fill('#taskQueue', f.taskQueue);
    await page.fill('#workflowType', 'blueGreenDeployment');
    await typeJson('.cm-content', input);
    await page.click('h1'); // leave the editor so the form validates its JSON
    await shot('1-start-form');

    // When: the person starts it.
    await load.next('during');
    await page.click('[data-testid=start-workflow-button]');
    await page.getByRole('link', { name: 'Workflow started successfully' }).waitFor({ timeout: 30_000 });

    // Then: it reaches the approval gate (the status query says so).
    const waiting = await f.waitForPhase(workflowId, 'AwaitingApproval');
    expect(waiting.approval.pending).toBe(true);
    expect(await f.versionOf('Catalog')).toBe('platform-server');

    // When: the person approves from the workflow page's signal form.
    await page.goto(`${ui}/namespaces/default/workflows/${workflowId}`, { waitUntil: 'domcontentloaded' });
    await page.getByRole('button', { name: 'More Actions' }).click();
    await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
    // With a live worker the UI knows the workflow's signals and offers a list; otherwise a text field.
    const dialog = page.locator('dialog:visible, [role=dialog]:visible').filter({ hasText: 'Send a Signal' });
    await dialog.waitFor();
    if (await dialog.locator('[data-testid=signal-select-button]').count()) {
      await dialog.locator('[data-testid=signal-select-button]').click();
      await dialog.getByRole('option', { name: 'approve', exact: true }).click();
    } else {
      await dialog.locator('#signal-name').fill('approve');
    }
    await dialog.locator('.cm-content').click();
    await page.keyboard.insertText(JSON.stringify({ by: 'ui-tester', version: '1.0.0' }));
    // Leaving the editor reformats the JSON and moves the buttons: let it settle before submitting.
    await dialog.getByText('Single JSON payload supported.').click();
    await page.waitForTimeout(500);
    await shot('2-signal-form');
    await dialog.getByRole('button', { name: 'Submit' }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 30_000 });
    const approved = await f.waitForPhase(workflowId, 'Succeeded', 120_000);
    await load.next('after');
    expect(approved.approval.approved?.by).toBe('ui-tester');

    // Then: the deployment completes and the UI shows it.
    const result = await f.result(workflowId);
    expect(result.outcome).toBe('succeeded');
    expect(result.status.approval.approved?.by).toBe('ui-tester');
    await page.goto(`${ui}/namespaces/default/workflows/${workflowId}`, { waitUntil: 'domcontentloaded' });
    await page.getByText('Completed').first().waitFor({ timeout: 30_000 });
    await shot('3-completed');
    await load.waitForRequests();
    const report = await load.stop();
    expectZeroDowntime(report, {
      versions: { before: ['platform-server'], during: ['platform-server', '1.0.0'], after: ['1.0.0'] },
      slowAcross: [{ from: 'platform-server', to: '1.0.0' }],
      deliveries: f.deliveries(),
    });
  } finally {
    await load.stop(); // idempotent: a no-op once stopped above
    await f.client
      .handle(workflowId)
      .terminate('test cleanup')
      .catch(() => undefined);
  }
});
