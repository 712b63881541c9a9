import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer } from './helpers';

ownServer();

test('the dashboard shows system health and compliance, and an alert is acknowledged in place', async ({ page }) => {
  test.setTimeout(90_000);
  await login(page, ADMIN);
  await expect(page.getByTestId('success-rate')).toHaveText('100.0%');
  await expect(page.getByTestId('dashboard-alerts')).toContainText('No alert is open.');

  // A location and a configuration with an RPO of an hour (over REST, with the session), whose
  // source then goes away.
  const repo = join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-dash-')), 'repo');
  const location = await page.request.post('/api/admin/backups/storage-locations', { data: { locationName: 'Dash disk', storageType: 'primary', provider: 'local', pathPrefix: repo, costPerGbMonth: 0.02 } });
  expect(location.status(), await location.text()).toBe(201);
  const locationId = (await location.json()).id;
  expect((await page.request.post(`/api/admin/backups/storage-locations/${locationId}/init`)).ok()).toBe(true);
  const source = mkdtempSync(join(tmpdir(), 'bulwark-e2e-dash-src-'));
  writeFileSync(join(source, 'app.conf'), 'mode = production\n');
  const created = await page.request.post('/api/admin/backups/configurations', {
    data: { name: 'Dash files', sourceType: 'filesystem', sourceIdentifier: source, storageLocationIds: [locationId], rpoMinutes: 60, rtoMinutes: 30 },
  });
  expect(created.status(), await created.text()).toBe(201);
  rmSync(source, { recursive: true });
  expect((await page.request.post(`/api/admin/backups/configurations/${(await created.json()).id}/execute`)).ok()).toBe(true);

  // The failure shows: success rate, the recent backup, the alert; the new configuration is
  // within its RPO (it counts from its creation) and its RTO is not measured yet.
  const alert = page.getByTestId('dashboard-alerts').locator('li').filter({ hasText: 'backup_failed' });
  await expect(async () => {
    await page.goto('/');
    await expect(alert).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await hydrated(page);
  await expect(page.getByTestId('success-rate')).toHaveText('0.0%');
  await expect(page.getByTestId('recent-executions').locator('tr[data-status="failed"]')).toContainText('Dash files');
  const row = page.getByTestId('compliance').locator('tr[data-configuration="Dash files"]');
  await expect(row).toHaveAttribute('data-rpo-met', 'true');
  await expect(row).toContainText('60 min: met');
  await expect(row).toContainText('30 min: not measured');

  await alert.getByRole('button', { name: 'Acknowledge' }).click();
  await expect(page.getByTestId('dashboard-alerts').locator('li[data-status="acknowledged"]')).toContainText('acknowledged by admin');

  // The seeds' dashboard answer says the same.
  const board = await (await page.request.get('/api/admin/backups/dashboard')).json();
  expect(board.overview.totalConfigurations).toBe(1);
  expect(board.overview.failedBackups).toBe(1);
  expect(board.systemHealth.successRate).toBe(0);
  expect(board.activeAlerts[0].status).toBe('acknowledged');
});

test('a backup started from the dashboard is seen finishing there without a reload', async ({ page }) => {
  test.setTimeout(90_000);
  await login(page, ADMIN);
  const repo = join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-live-')), 'repo');
  const location = await page.request.post('/api/admin/backups/storage-locations', { data: { locationName: 'Live disk', storageType: 'primary', provider: 'local', pathPrefix: repo } });
  expect(location.status(), await location.text()).toBe(201);
  const locationId = (await location.json()).id;
  expect((await page.request.post(`/api/admin/backups/storage-locations/${locationId}/init`)).ok()).toBe(true);
  const source = mkdtempSync(join(tmpdir(), 'bulwark-e2e-live-src-'));
  writeFileSync(join(source, 'orders.csv'), 'id,total\n1,20\n'.repeat(5_000));
  const created = await page.request.post('/api/admin/backups/configurations', { data: { name: 'Live files', sourceType: 'filesystem', sourceIdentifier: source, storageLocationIds: [locationId] } });
  expect(created.status(), await created.text()).toBe(201);

  await page.goto('/');
  await hydrated(page);
  // Marks this page load: a reload would lose it.
  await page.evaluate(() => ((window as unknown as { liveMark: number }).liveMark = 42));
  await page.getByTestId('dashboard-configurations').locator('tr[data-configuration="Live files"]').getByRole('button', { name: 'Run now' }).click();
  await expect(page.getByTestId('recent-executions').locator('tr[data-status="completed"]').filter({ hasText: 'Live files' })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('dashboard-configurations').locator('tr[data-configuration="Live files"]')).toContainText('completed');
  expect(await page.evaluate(() => (window as unknown as { liveMark?: number }).liveMark)).toBe(42);
  // The charts are drawn.
  await expect(page.getByTestId('daily-backups-chart').locator('canvas')).toHaveCount(1);
});
