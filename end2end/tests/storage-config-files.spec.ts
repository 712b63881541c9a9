import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer, restoreDir } from './helpers';

ownServer();

const SECRETS = ['SuperSecret1', 'sk_live_abc123', 'sk_live_NEW999', 'hunter2'];

test('configuration files are backed up, compared with the current ones without showing a value, and restored', async ({ page }) => {
  test.setTimeout(90_000);
  const src = mkdtempSync(join(tmpdir(), 'bulwark-e2e-config-'));
  const env = 'DATABASE_URL=postgres://app:SuperSecret1@db/app\nAPI_KEY=sk_live_abc123\nDEBUG=false\n';
  writeFileSync(join(src, '.env'), env);
  mkdirSync(join(src, 'config'));
  writeFileSync(join(src, 'config', 'app.yaml'), 'password: hunter2\n');

  await login(page, ADMIN);
  await page.goto('/storage');
  await hydrated(page);
  await page.getByLabel('Name').fill('Config disk');
  await page.getByLabel('Path').fill(join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-configrepo-')), 'repo'));
  await page.getByRole('button', { name: 'Add location' }).click();
  await page.locator('tr[data-location="Config disk"]').getByRole('button', { name: 'Initialise repository' }).click();
  await expect(page.getByTestId('recovery-kit')).toBeVisible();

  await page.goto('/configurations');
  await hydrated(page);
  await page.getByLabel('Name').fill('App config');
  await page.getByLabel('Source', { exact: true }).selectOption('environment_vars');
  await page.getByLabel('Source identifier').fill(src);
  await page.getByLabel('Storage location').selectOption({ label: 'Config disk' });
  await page.getByRole('button', { name: 'Add configuration' }).click();
  await page.locator('tr[data-configuration="App config"]').getByRole('button', { name: 'Run now' }).click();
  await expect(page).toHaveURL(/\/executions\//);
  await hydrated(page);
  await expect(page.getByTestId('status')).toHaveText('completed', { timeout: 60_000 });
  await expect(page.locator('pre')).toContainText('"API_KEY"');

  writeFileSync(join(src, '.env'), 'DATABASE_URL=postgres://app:SuperSecret1@db/app\nAPI_KEY=sk_live_NEW999\nNEW_FLAG=1\n');
  await page.getByRole('button', { name: 'Compare' }).click();
  const envRow = page.getByTestId('config-diff').locator('tr[data-file=".env"]');
  await expect(envRow).toContainText('changed');
  await expect(envRow).toContainText('NEW_FLAG');
  await expect(envRow).toContainText('DEBUG');
  await expect(envRow).toContainText('API_KEY');
  await expect(page.getByTestId('config-diff').locator('tr[data-file="config/app.yaml"]')).toContainText('unchanged');
  const html = await page.content();
  for (const secret of SECRETS) expect(html).not.toContain(secret);

  const target = restoreDir('config-restore');
  await page.getByLabel('Target directory').fill(target);
  await page.getByRole('button', { name: 'Restore files' }).click();
  await expect(page.getByTestId('restore-report')).toContainText('Restored 2 files');
  expect(readFileSync(join(target, '.env'), 'utf8')).toBe(env);
});
