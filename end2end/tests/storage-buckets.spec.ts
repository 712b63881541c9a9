import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer } from './helpers';
import { SeaweedFs } from './s3';

ownServer();

let s3: SeaweedFs;
test.beforeAll(async () => {
  s3 = await SeaweedFs.start();
});
test.afterAll(() => s3?.stop());

test('an S3 bucket is backed up from the console and one prefix restored into another bucket', async ({ page }) => {
  test.setTimeout(120_000);
  const big = randomBytes(3 << 20);
  await s3.createBucket('assets');
  await s3.put('assets', 'avatars/zoë.png', big, 'image/png');
  await s3.put('assets', 'avatars/empty.txt', '', 'text/plain');
  await s3.put('assets', 'docs/readme.md', '# Assets\n', 'text/markdown');
  await s3.createBucket('assets-restored');
  await s3.put('assets-restored', 'keep.txt', 'already here', 'text/plain');

  await login(page, ADMIN);
  await page.goto('/storage');
  await hydrated(page);
  await page.getByLabel('Name').fill('Bucket disk');
  await page.getByLabel('Path').fill(join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-bucketrepo-')), 'repo'));
  await page.getByRole('button', { name: 'Add location' }).click();
  await page.locator('tr[data-location="Bucket disk"]').getByRole('button', { name: 'Initialise repository' }).click();
  await expect(page.getByTestId('recovery-kit')).toBeVisible();

  await page.goto('/configurations');
  await hydrated(page);
  await page.getByLabel('Name').fill('Assets bucket');
  await page.getByLabel('Source', { exact: true }).selectOption('s3_bucket');
  await page.getByLabel('Source identifier').fill('s3://assets');
  await page.getByLabel('Endpoint').fill(s3.endpoint);
  await page.getByLabel('Access key id').fill('any-key');
  await page.getByLabel('Source secret').fill('any-secret');
  await page.getByLabel('Storage location').selectOption({ label: 'Bucket disk' });
  await page.getByRole('button', { name: 'Add configuration' }).click();
  await page.locator('tr[data-configuration="Assets bucket"]').getByRole('button', { name: 'Run now' }).click();
  await expect(page).toHaveURL(/\/executions\//);
  await hydrated(page);
  await expect(page.getByTestId('status')).toHaveText('completed', { timeout: 60_000 });
  await expect(page.locator('pre')).toContainText('"objectsRead": 3');

  await page.getByLabel('Target bucket (optional)').fill('assets-restored');
  await page.getByLabel('Key prefixes (optional)').fill('avatars/');
  await page.getByRole('button', { name: 'Restore objects' }).click();
  await expect(page.getByTestId('restore-report')).toContainText('Restored 2 objects');
  const avatar = await s3.get('assets-restored', 'avatars/zoë.png');
  expect(avatar?.contentType).toBe('image/png');
  expect(avatar?.bytes.equals(big)).toBe(true);
  expect((await s3.get('assets-restored', 'avatars/empty.txt'))?.bytes.length).toBe(0);
  expect(await s3.get('assets-restored', 'docs/readme.md')).toBeNull();
  expect((await s3.get('assets-restored', 'keep.txt'))?.bytes.toString()).toBe('already here');

  // A bucket that is not there: a clear refusal.
  await page.getByLabel('Target bucket (optional)').fill('no-such-bucket');
  await page.getByRole('button', { name: 'Restore objects' }).click();
  await expect(page.getByRole('alert')).toContainText('does not exist');
});
