/**
 * A person using the Temporal UI: real Chromium (Debian's, driven by
 * playwright-core) against the real UI served by the dev server. Start a
 * blue-green deployment from the Start Workflow form, wait for its approval
 * gate, send `approve` from the signal form, and see it complete; then start a
 * canary release the same way, see it wait at its `pause: {}` gate with 20 %
 * of the traffic, promote it with `approve` and see it complete.
 * Screenshots are kept in test-artifacts/ui/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium';
import { expectZeroDowntime } from '../support/load';
import { createFixture } from '../support/local-fixture';
import type { Fixture } from '../support/local-fixture';
import { temporalUiUrl } from '../support/temporal';

const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts', 'ui');

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

/** Fills the Start Workflow form (id, task queue, type, the JSON input) and starts the workflow. */
async function startFromForm(
  workflowId: string,
  workflowType: string,
  input: unknown,
  screenshot: string,
  beforeStart: () => Promise<unknown> = async () => undefined,
): Promise<void> {
  await page.goto(`${temporalUiUrl()}/namespaces/default/workflows/start-workflow`, { waitUntil: 'domcontentloaded' });
  await page.fill('#workflowId', workflowId);
  await page.fill('#taskQueue', f.taskQueue);
  await page.fill('#workflowType', workflowType);
  await typeJson('.cm-content', input);
  await page.click('h1'); // leave the editor so the form validates its JSON
  await shot(screenshot);
  await beforeStart();
  await page.click('[data-testid=start-workflow-button]');
  await page.getByRole('link', { name: 'Workflow started successfully' }).waitFor({ timeout: 30_000 });
}

/** Sends a signal from the workflow page's "Send a Signal" form and waits until the dialog closes. */
async function sendSignal(workflowId: string, name: string, payload: unknown, screenshot: string): Promise<void> {
  await page.goto(`${temporalUiUrl()}/namespaces/default/workflows/${workflowId}`, { waitUntil: 'domcontentloaded' });
  await page.getByRole('button', { name: 'More Actions' }).click();
  await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
  // With a live worker the UI knows the workflow's signals and offers a list; otherwise a text field.
  const dialog = page.locator('dialog:visible, [role=dialog]:visible').filter({ hasText: 'Send a Signal' });
  await dialog.waitFor();
  if (await dialog.locator('[data-testid=signal-select-button]').count()) {
    await dialog.locator('[data-testid=signal-select-button]').click();
    await dialog.getByRole('option', { name, exact: true }).click();
  } else {
    await dialog.locator('#signal-name').fill(name);
  }
  await dialog.locator('.cm-content').click();
  await page.keyboard.insertText(JSON.stringify(payload));
  // Leaving the editor reformats the JSON and moves the buttons: let it settle before submitting.
  await dialog.getByText('Single JSON payload supported.').click();
  await page.waitForTimeout(500);
  await shot(screenshot);
  await dialog.getByRole('button', { name: 'Submit' }).click();
  await dialog.waitFor({ state: 'hidden', timeout: 30_000 });
}

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
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
    // Given: the Start Workflow form; when: the person starts it.
    await startFromForm(workflowId, 'blueGreenDeployment', input, '1-start-form', () => load.next('during'));

    // Then: it reaches the approval gate (the status query says so).
    const waiting = await f.waitForPhase(workflowId, 'AwaitingApproval');
    expect(waiting.approval.pending).toBe(true);
    expect(await f.versionOf('Catalog')).toBe('platform-server');

    // When: the person approves from the workflow page's signal form.
    await sendSignal(workflowId, 'approve', { by: 'ui-tester', version: '1.0.0' }, '2-signal-form');
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

test('start a canary release from the UI, see it wait at 20 %, promote it from the signal form, see it complete', async () => {
  // Given: 1.0.0 serves (the test above migrated it); a canary of 2.0.0 with a pause until promoted.
  expect(await f.versionOf('Catalog')).toBe('1.0.0');
  const workflowId = `deploy-test-${f.application}-canary`;
  const spec = {
    ...f.spec('2.0.0'),
    strategy: { type: 'canary', steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 100 }] },
  };
  const load = f.load();
  try {
    await startFromForm(workflowId, 'canaryDeployment', { spec }, '4-canary-start-form', () => load.next('during'));

    // Then: it waits at the pause with 20 % of the requests on the canary (measured through the router).
    const paused = await f.waitForPhase(workflowId, 'Paused', 120_000);
    expect(paused.approval.pending).toBe(true);
    expect(paused.canary?.weight).toBe(20);
    expect(paused.canary?.splits.map((s) => [s.weight, s.status])).toEqual([[20, 'measured']]);

    // When: the person promotes it with `approve` from the signal form.
    await sendSignal(workflowId, 'approve', { by: 'ui-tester', version: '2.0.0' }, '5-canary-signal-form');

    // Then: it completes, every request on 2.0.0, and the UI shows it completed.
    const result = await f.result(workflowId);
    expect(result.outcome).toBe('succeeded');
    expect(result.status.approval.approved?.by).toBe('ui-tester');
    expect(result.status.canary?.splits.map((s) => s.weight)).toEqual([20, 100]);
    await load.next('after');
    await page.goto(`${temporalUiUrl()}/namespaces/default/workflows/${workflowId}`, { waitUntil: 'domcontentloaded' });
    await page.getByText('Completed').first().waitFor({ timeout: 30_000 });
    await shot('6-canary-completed');
    await load.waitForRequests();
    const report = await load.stop();
    expectZeroDowntime(report, {
      versions: { before: ['1.0.0'], during: ['1.0.0', '2.0.0'], after: ['2.0.0'] },
      deliveries: f.deliveries(),
    });
  } finally {
    await load.stop();
    await f.client
      .handle(workflowId)
      .terminate('test cleanup')
      .catch(() => undefined);
  }
});
