import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, type Page, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer, restoreDir } from './helpers';

ownServer();

async function addConfiguration(page: Page, name: string, sourceType: string, source: string, extra?: (page: Page) => Promise<void>) {
  await page.goto('/configurations');
  await hydrated(page);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Source', { exact: true }).selectOption(sourceType);
  await page.getByLabel('Source identifier').fill(source);
  if (extra) await extra(page);
  await page.getByLabel('Storage location').selectOption({ label: 'Group disk' });
  await page.getByRole('button', { name: 'Add configuration' }).click();
  await expect(page.locator(`tr[data-configuration="${name}"]`)).toBeVisible();
}

test('a consistency group takes one point across its members and restores every one of them', async ({ page }) => {
  test.setTimeout(90_000);
  const site = mkdtempSync(join(tmpdir(), 'bulwark-e2e-site-'));
  mkdirSync(join(site, 'pages'));
  writeFileSync(join(site, 'pages', 'index.html'), '<h1>Shop</h1>\n');
  const config = mkdtempSync(join(tmpdir(), 'bulwark-e2e-siteconfig-'));
  writeFileSync(join(config, '.env'), 'SESSION_SECRET=at-the-point\n');

  await login(page, ADMIN);
  await page.goto('/storage');
  await hydrated(page);
  await page.getByLabel('Name').fill('Group disk');
  await page.getByLabel('Path').fill(join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-grouprepo-')), 'repo'));
  await page.getByRole('button', { name: 'Add location' }).click();
  await page.locator('tr[data-location="Group disk"]').getByRole('button', { name: 'Initialise repository' }).click();
  await expect(page.getByTestId('recovery-kit')).toBeVisible();

  await addConfiguration(page, 'Site pages', 'filesystem', site);
  await addConfiguration(page, 'Site config', 'environment_vars', config);
  await addConfiguration(page, 'Whole site', 'consistency_group', 'pages and their configuration', async (p) => {
    await p.getByLabel('Members').fill('Site pages, Site config');
  });
  await page.locator('tr[data-configuration="Whole site"]').getByRole('button', { name: 'Run now' }).click();
  await expect(page).toHaveURL(/\/executions\//);
  await hydrated(page);
  await expect(page.getByTestId('status')).toHaveText('completed', { timeout: 60_000 });
  await expect(page.getByTestId('group-members').locator('tbody tr')).toHaveCount(2);

  // After the point the files move on; the restore brings the point back.
  writeFileSync(join(config, '.env'), 'SESSION_SECRET=later\n');
  const restoredSite = restoreDir('site-restore');
  const restoredConfig = restoreDir('siteconfig-restore');
  const targets = { members: { 'Site pages': { targetPath: restoredSite } } };
  await page.getByLabel('Targets').fill(JSON.stringify(targets));
  await page.getByRole('button', { name: 'Restore every member' }).click();
  await expect(page.getByRole('alert')).toContainText('members.Site config: give a target for every member');

  const all = { members: { 'Site pages': { targetPath: restoredSite }, 'Site config': { targetPath: restoredConfig } } };
  await page.getByLabel('Targets').fill(JSON.stringify(all));
  await page.getByRole('button', { name: 'Restore every member' }).click();
  await expect(page.getByTestId('restore-report')).toContainText('Restored Site pages, Site config to the point of');
  expect(readFileSync(join(restoredSite, 'pages', 'index.html'), 'utf8')).toBe('<h1>Shop</h1>\n');
  expect(readFileSync(join(restoredConfig, '.env'), 'utf8')).toBe('SESSION_SECRET=at-the-point\n');
});
