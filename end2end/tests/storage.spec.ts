import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer } from './helpers';

ownServer();

// Runs after console.spec.ts (files run in name order, one worker), so the admin exists.
test('an admin adds a local location, tests it, and initialises its repository', async ({ page }) => {
  await login(page, ADMIN);
  await page.goto('/storage');
  await hydrated(page);

  await page.getByLabel('Name').fill('Relative');
  await page.getByLabel('Path').fill('not/absolute');
  await page.getByRole('button', { name: 'Add location' }).click();
  await expect(page.getByRole('alert')).toContainText('pathPrefix: a local location needs an absolute directory path');

  const dir = join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-store-')), 'repo');
  await page.getByLabel('Name').fill('Primary disk');
  await page.getByLabel('Path').fill(dir);
  await page.getByLabel('Price per GB-month').fill('0.02');
  await page.getByRole('button', { name: 'Add location' }).click();
  const row = page.locator('tr[data-location="Primary disk"]');
  await expect(row).toContainText('never tested');
  await expect(row).toContainText('not initialised');

  await row.getByRole('button', { name: 'Test connection' }).click();
  await expect(page.getByTestId('test-result')).toContainText('Primary disk: connection works');
  await expect(row).toContainText('works');

  await row.getByRole('button', { name: 'Initialise repository' }).click();
  await expect(page.getByTestId('recovery-kit')).toContainText('It is not shown again.');
  await expect(page.getByTestId('key-file')).toHaveText(/^[0-9a-f]{64}$/);
  await expect(row).not.toContainText('not initialised');
  await expect(row.getByRole('button', { name: 'Delete' })).toHaveCount(0);

  // The recovery kit's key file opens the repository from the command line: back a tree up.
  const keyFile = join(dir, '..', 'kit.key');
  writeFileSync(keyFile, (await page.getByTestId('key-file').textContent()) ?? '');
  const src = mkdtempSync(join(tmpdir(), 'bulwark-e2e-src-'));
  mkdirSync(join(src, 'etc', 'nginx'), { recursive: true });
  const conf = 'server { listen 443 ssl; } # ünïcode\n'.repeat(500);
  writeFileSync(join(src, 'etc', 'nginx', 'site.conf'), conf);
  writeFileSync(join(src, 'README'), 'top level\n');
  execFileSync(process.env.BULWARK_BIN!, ['repo', '--repo', dir, '--key-file', keyFile, 'backup', src]);

  // What the location holds now: one pack of file data, one of the tree (its own pipeline run).
  await row.getByRole('button', { name: 'Usage' }).click();
  await expect(page.getByTestId('usage')).toHaveText(/^Primary disk: \d+ bytes stored; packs: 2; snapshots: 1$/);

  // Browse it in the console and download one file.
  await row.getByRole('link', { name: /snapshots/ }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Snapshots' })).toBeVisible();
  const snapshot = page.locator('tr[data-snapshot]');
  await expect(snapshot).toHaveCount(1);
  await expect(snapshot).toContainText('tree');

  // The index lost: rebuilt from the packs' headers, then the browser and download work from it.
  for (const f of readdirSync(join(dir, 'index'))) rmSync(join(dir, 'index', f));
  await page.getByRole('button', { name: 'Rebuild the index' }).click();
  await expect(page.getByTestId('repair-result')).toHaveText(/^Indexed 2 packs \(\d+ blobs\) from their headers; replaced 0 index files\.$/);
  expect(readdirSync(join(dir, 'index'))).toHaveLength(1);

  await snapshot.getByRole('link').click();
  await expect(page.locator('tr[data-entry="README"]')).toBeVisible();
  await page.locator('tr[data-entry="etc"]').getByRole('link', { name: 'Open' }).click();
  await page.locator('tr[data-entry="nginx"]').getByRole('link', { name: 'Open' }).click();
  await expect(page.getByTestId('current-dir')).toHaveText('/etc/nginx');
  const download = page.waitForEvent('download');
  await page.locator('tr[data-entry="site.conf"]').getByRole('link', { name: 'Download' }).click();
  const file = await (await download).path();
  expect(readFileSync(file, 'utf8')).toBe(conf);
});

test('an unreachable S3 endpoint gets a clear message', async ({ page }) => {
  await login(page, ADMIN);
  await page.goto('/storage');
  await hydrated(page);
  await page.getByLabel('Name').fill('Nowhere');
  await page.getByLabel('Provider').selectOption('s3');
  await page.getByLabel('Endpoint (empty for AWS)').fill('http://127.0.0.1:9');
  await page.getByLabel('Bucket').fill('backups');
  await page.getByLabel('Access key').fill('AKIA');
  await page.getByLabel('Secret key').fill('secret');
  await page.getByLabel('Storage class').selectOption('STANDARD_IA');
  await page.getByRole('button', { name: 'Add location' }).click();
  const row = page.locator('tr[data-location="Nowhere"]');
  await expect(row).toContainText('s3://backups/ at http://127.0.0.1:9 [STANDARD_IA]');
  await row.getByRole('button', { name: 'Test connection' }).click();
  await expect(page.getByTestId('test-result')).toContainText('Nowhere: connection failed — writing failed');
  await expect(row).toContainText('failed: writing failed');
});
