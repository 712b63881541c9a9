import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer } from './helpers';

ownServer();

/** What the webhook receiver was sent: each request's headers and raw body. */
type Hit = { headers: Record<string, string | string[] | undefined>; body: string };
const hits: Hit[] = [];
let receiver: Server;
let hookUrl = '';

test.beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      hits.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});

test.afterAll(() => receiver.close());

/** Whether a request carries a fresh signature under `secret`, computed here as a receiver would. */
function signed(hit: Hit, secret: string): boolean {
  const timestamp = String(hit.headers['x-bulwark-timestamp']);
  const expected = `v1=${createHmac('sha256', secret).update(`${timestamp}.${hit.body}`).digest('hex')}`;
  return hit.headers['x-bulwark-signature'] === expected && Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
}

test('a webhook channel is added, tested, told of a failed backup, and the alert shows who was told', async ({ page }) => {
  test.setTimeout(120_000);
  await login(page, ADMIN);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Notifications', exact: true }).click();
  await expect(page.getByText('No channels yet')).toBeVisible();
  await hydrated(page);

  // Bad input: a sentence, nothing saved.
  const form = page.getByTestId('add-webhook');
  await form.getByLabel('Name').fill('Ops hook');
  await form.getByLabel('URL').fill('ftp://example.com/hook');
  await form.getByRole('button', { name: 'Add webhook' }).click();
  await expect(page.getByRole('alert')).toContainText('a webhook is called over http:// or https://');
  await expect(page.getByText('No channels yet')).toBeVisible();

  await form.getByLabel('URL').fill(hookUrl);
  await form.getByRole('button', { name: 'Add webhook' }).click();
  const secret = (await page.getByTestId('signing-secret').textContent()) ?? '';
  expect(secret).toMatch(/^whsec_/);
  const channel = page.locator('tr[data-channel="Ops hook"]');
  await expect(channel).toContainText('every severity; every level');

  await channel.getByRole('button', { name: 'Send test' }).click();
  await expect(page.getByTestId('test-outcome')).toHaveText('The test reached Ops hook.');
  expect(hits).toHaveLength(1);
  expect(hits[0].headers['x-bulwark-event']).toBe('test');
  expect(signed(hits[0], secret)).toBe(true);
  expect(signed(hits[0], 'another secret')).toBe(false);

  // A backup that fails raises backup_failed, and the worker tells the channel.
  const source = mkdtempSync(join(tmpdir(), 'bulwark-e2e-told-'));
  writeFileSync(join(source, 'app.conf'), 'mode = production\n');
  await page.goto('/storage');
  await hydrated(page);
  await page.getByLabel('Name').fill('Told disk');
  await page.getByLabel('Path').fill(join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-told-repo-')), 'repo'));
  await page.getByRole('button', { name: 'Add location' }).click();
  await page.locator('tr[data-location="Told disk"]').getByRole('button', { name: 'Initialise repository' }).click();
  await expect(page.getByTestId('recovery-kit')).toBeVisible();
  await page.goto('/configurations');
  await hydrated(page);
  await page.getByLabel('Name').fill('Told files');
  await page.getByLabel('Source identifier').fill(source);
  await page.getByLabel('Storage location').selectOption({ label: 'Told disk' });
  await page.getByRole('button', { name: 'Add configuration' }).click();
  const row = page.locator('tr[data-configuration="Told files"]');
  await expect(row).toBeVisible();
  rmSync(source, { recursive: true });
  await row.getByRole('button', { name: 'Run now' }).click();
  await hydrated(page);
  await expect(page.getByTestId('status')).toHaveText('failed', { timeout: 30_000 });
  await expect.poll(() => hits.filter((h) => h.headers['x-bulwark-event'] === 'alert.raised').length, { timeout: 30_000 }).toBe(1);
  const raised = hits.find((h) => h.headers['x-bulwark-event'] === 'alert.raised') as Hit;
  expect(signed(raised, secret)).toBe(true);
  const body = JSON.parse(raised.body);
  expect(body.record.alertType).toBe('backup_failed');
  expect(body.title).toContain('[HIGH]');

  // The alert's history: raised, then told through the channel.
  await page.goto('/alerts');
  await hydrated(page);
  const alert = page.getByTestId('alerts').locator('tr').filter({ hasText: 'Told files' });
  await alert.getByRole('link', { name: 'history' }).click();
  const history = page.getByTestId('alert-history');
  await expect(history.locator('li[data-kind="raised"]')).toBeVisible();
  await expect(history.locator('li[data-kind="notified"]')).toContainText('1 channel told');
  await expect(page.getByTestId('alert-deliveries')).toContainText('Ops hook');
  await expect(page.getByTestId('alert-deliveries')).toContainText('delivered');

  // The filters: no critical alert, one of type backup_failed.
  await page.goto('/alerts');
  await hydrated(page);
  await page.getByLabel('Severity').selectOption('critical');
  await expect(page.getByText('No alerts here')).toBeVisible();
  await page.getByLabel('Severity').selectOption('');
  await page.getByLabel('Type').selectOption('backup_failed');
  await expect(page.getByTestId('alerts').locator('tr[data-status="open"]')).toContainText('Told files');
  // By configuration: its alert, and none of another's.
  await page.getByLabel('Configuration').selectOption({ label: 'Told files' });
  await expect(page.getByTestId('alerts').locator('tr[data-status="open"]')).toContainText('Told files');
  await page.getByLabel('Type').selectOption('rpo_breach');
  await expect(page.getByText('No alerts here')).toBeVisible();
  await page.getByLabel('Type').selectOption('');
  await page.getByLabel('Configuration').selectOption('');

  // Silenced for an hour, then lifted.
  await page.goto('/alerts');
  await hydrated(page);
  const open = page.getByTestId('alerts').locator('tr').filter({ hasText: 'Told files' });
  await open.getByLabel('Reason').fill('moving the source');
  await open.getByRole('button', { name: 'Silence' }).click();
  const silence = page.getByTestId('silences').locator('tr[data-active="true"]');
  await expect(silence).toContainText('backup_failed');
  await expect(silence).toContainText('moving the source (admin)');
  await silence.getByRole('button', { name: 'Lift' }).click();
  await expect(page.getByTestId('silences').locator('tr[data-active="false"]')).toContainText('lifted');

  // The delivery log, the escalation schedule, and the channel disabled by hand.
  await page.goto('/notifications');
  await hydrated(page);
  const critical = page.getByTestId('escalation').locator('tr[data-severity="critical"]');
  await expect(critical.getByLabel('Minutes for critical')).toHaveValue('15, 60');
  await critical.getByLabel('Minutes for critical').fill('30, 10');
  await critical.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('alert')).toContainText('steps: level 3 must come later than level 2');
  await critical.getByLabel('Minutes for critical').fill('10, 30');
  await critical.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('escalation-saved')).toHaveText('The critical schedule is saved.');
  const schedules = await (await page.request.get('/api/admin/backups/alerts/escalation')).json();
  expect(schedules.schedules[0].steps).toEqual([{ level: 1, afterMinutes: 0 }, { level: 2, afterMinutes: 10 }, { level: 3, afterMinutes: 30 }]);
  await expect(page.getByTestId('deliveries').locator('tr[data-status="delivered"]')).toHaveCount(2);
  await page.locator('tr[data-channel="Ops hook"]').getByRole('button', { name: 'Disable' }).click();
  await expect(page.locator('tr[data-channel="Ops hook"]')).toContainText('disabled: disabled by admin');
});
