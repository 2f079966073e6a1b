/**
 * The Temporal UI as the operator's console: real Chromium (Debian's, driven by playwright-core) against the real UI
 * served by the dev server, over a real blue-green deployment (local platform, local router) started by the Cutover
 * client. The workflow page shows the deployment's summary ("blue-green <app> 1.0.0 to test") and its start details,
 * the current details show the phase and the open approval gate, and, once approved, the event history names each
 * activity by its runbook step ("switch Catalog, Cart to green"), in the event list and on the timeline. Screenshots are kept in test-artifacts/ui/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium';
import { approveSignal } from '../../workflows/messages';
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

/**
 * Waits until the page shows `text`, in the page or in one of its frames (the UI renders the summary and the details'
 * markdown in sandboxed iframes); if it never does, keeps what the page showed (screenshot and text) for a look.
 */
async function see(text: string | RegExp, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      const found = frame.getByText(text).first();
      if (await found.isVisible().catch(() => false)) return;
    }
    if (Date.now() > until) break;
    await page.waitForTimeout(250);
  }
  await shot('console-failed');
  const texts = await Promise.all(
    page.frames().map((fr) =>
      fr
        .locator('body')
        .innerText()
        .catch(() => ''),
    ),
  );
  fs.writeFileSync(path.join(ARTIFACTS, 'console-failed.txt'), texts.join('\n----- frame -----\n'));
  throw new Error(`the Temporal UI never showed ${String(text)} (page kept as console-failed.png / .txt)`);
}

/** Opens the workflow's page at one of its tabs ("User Metadata", "Event History"). */
async function openWorkflow(workflowId: string, tab = 'User Metadata'): Promise<void> {
  const url = `${temporalUiUrl()}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  await page.getByText(workflowId).first().waitFor({ timeout: 30_000 });
  // The summary and the details are in the "User Metadata" tab.
  await page.locator('a, button, [role=tab]', { hasText: tab }).first().click();
}

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
  f = await createFixture('ui-console');
  await f.startInProcessWorker();
});

afterAll(async () => {
  await browser?.close();
  await f?.close();
});

test('the workflow page reads as the runbook: summary, current details with the phase and gate, steps as activity summaries', async () => {
  const spec = f.spec('1.0.0', { strategy: { approval: { mode: 'required', timeout: '10m' } } });
  const workflowId = await f.deploySpec(spec);
  const summary = `blue-green ${f.application} 1.0.0 to test`;

  // Given: the deployment waits at its approval gate.
  const waiting = await f.waitForPhase(workflowId, 'AwaitingApproval', 120_000);
  expect(waiting.approval.pending).toBe(true);

  // Then: its page shows the summary it was started with and the current details: phase, gate, traffic.
  await openWorkflow(workflowId);
  await see(summary);
  await see('AwaitingApproval');
  await see(/waiting for approval until/);
  await see('Catalog, Cart'); // the start details' modules
  await shot('console-1-awaiting-approval');

  // When: it is approved (by the client; the signal form is temporal-ui.test.ts's).
  await f.client.handle(workflowId).signal(approveSignal, { by: 'ui-console-tester', version: '1.0.0' });
  const result = await f.result(workflowId);
  expect(result.outcome).toBe('succeeded');

  // Then: the current details say it succeeded, and the history names each activity by its runbook step.
  await openWorkflow(workflowId);
  await see('Completed');
  await see('Succeeded');
  await see('approved by ui-console-tester');
  await shot('console-2-succeeded');
  await openWorkflow(workflowId, 'Event History');
  await see('switch Catalog, Cart to green');
  await see('discover live version');
  await shot('console-3-history');
  await openWorkflow(workflowId, 'Timeline');
  await see('switch Catalog, Cart to green');
  await shot('console-4-timeline');
});
