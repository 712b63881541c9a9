import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer } from './helpers';

ownServer();

test('a failed backup raises an alert that is acknowledged and resolved on the Alerts page', async ({ page }) => {
  test.setTimeout(90_000);
  const source = mkdtempSync(join(tmpdir(), 'bulwark-e2e-vanishing-'));
  writeFileSync(join(source, 'app.conf'), 'mode = production\n');
  await login(page, ADMIN);
  await page.goto('/storage');
  await hydrated(page);
  await page.getByLabel('Name').fill('Alerts disk');
  await page.getByLabel('Path').fill(join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-alerts-')), 'repo'));
  await page.getByRole('button', { name: 'Add location' }).click();
  await page.locator('tr[data-location="Alerts disk"]').getByRole('button', { name: 'Initialise repository' }).click();
  await expect(page.getByTestId('recovery-kit')).toBeVisible();

  await page.goto('/configurations');
  await hydrated(page);
  await page.getByLabel('Name').fill('Vanishing files');
  await page.getByLabel('Source identifier').fill(source);
  await page.getByLabel('Storage location').selectOption({ label: 'Alerts disk' });
  await page.getByRole('button', { name: 'Add configuration' }).click();
  const row = page.locator('tr[data-configuration="Vanishing files"]');
  await expect(row).toBeVisible();
  // The source goes away: its backup fails, and the failure raises backup_failed.
  rmSync(source, { recursive: true });
  await row.getByRole('button', { name: 'Run now' }).click();
  await hydrated(page);
  await expect(page.getByTestId('status')).toHaveText('failed', { timeout: 30_000 });

  await page.goto('/alerts');
  const alerts = page.getByTestId('alerts');
  await expect(async () => {
    await page.reload();
    await expect(alerts.locator('tr[data-status="open"]')).toContainText('backup_failed', { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await hydrated(page);
  const alert = alerts.locator('tr').filter({ hasText: 'Vanishing files' });
  await expect(alert).toContainText('high');
  await alert.getByRole('button', { name: 'Acknowledge' }).click();
  await expect(alert).toHaveAttribute('data-status', 'acknowledged');
  await expect(alert).toContainText('acknowledged by admin');

  // Resolved by hand with a reason: it leaves the active list and shows among the resolved.
  await alert.getByLabel('Notes').fill('the directory was removed on purpose');
  await alert.getByRole('button', { name: 'Resolve' }).click();
  await expect(page.getByText('No alerts here')).toBeVisible();
  await page.getByLabel('Show').selectOption('resolved');
  await expect(alerts.locator('tr[data-status="resolved"]')).toContainText('the directory was removed on purpose');
});
