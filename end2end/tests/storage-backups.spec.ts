import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer, restoreDir } from './helpers';

ownServer();

// Runs after console.spec.ts (files run in name order, one worker), so the admin exists.
test('an admin creates a filesystem configuration, runs it, and watches it finish', async ({ page }) => {
  await login(page, ADMIN);

  // A location with a repository for the backups to go to.
  await page.goto('/storage');
  await hydrated(page);
  const repo = join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-runs-')), 'repo');
  await page.getByLabel('Name').fill('Backups disk');
  await page.getByLabel('Path').fill(repo);
  await page.getByRole('button', { name: 'Add location' }).click();
  const location = page.locator('tr[data-location="Backups disk"]');
  await location.getByRole('button', { name: 'Initialise repository' }).click();
  await expect(page.getByTestId('recovery-kit')).toBeVisible();

  // Something worth backing up: 24 MiB of random data and a few small files.
  const src = mkdtempSync(join(tmpdir(), 'bulwark-e2e-home-'));
  mkdirSync(join(src, 'docs'));
  writeFileSync(join(src, 'docs', 'notes.md'), '# Notes\nünïcode ✓\n'.repeat(1000));
  for (let i = 0; i < 3; i++) writeFileSync(join(src, `blob-${i}.bin`), randomBytes(8 << 20));

  await page.goto('/configurations');
  await hydrated(page);
  await page.getByLabel('Name').fill('Home directory');
  await page.getByLabel('Source identifier').fill('relative/path');
  await page.getByLabel('Storage location').selectOption({ label: 'Backups disk' });
  await page.getByRole('button', { name: 'Add configuration' }).click();
  await expect(page.getByRole('alert')).toContainText('sourceIdentifier: an absolute directory path');

  await page.getByLabel('Source identifier').fill(src);
  await page.getByLabel('RTO (minutes)').fill('30');
  await page.getByLabel('RPO (minutes)').fill('60');
  await page.getByRole('button', { name: 'Add configuration' }).click();
  const row = page.locator('tr[data-configuration="Home directory"]');
  await expect(row).toContainText('never run');
  await expect(row).toContainText('30 min / 60 min');

  await row.getByRole('button', { name: 'Run now' }).click();
  await expect(page).toHaveURL(/\/executions\/[0-9a-f-]{36}$/);
  await hydrated(page);
  const progress = page.getByTestId('progress');
  await expect(progress).toHaveAttribute('aria-valuenow', '100', { timeout: 60_000 });
  await expect(page.getByTestId('status')).toHaveText('completed');
  await expect(page.getByTestId('progress-text')).toContainText('100%');
  await expect(page.getByTestId('size')).toHaveText(/^24\.\d MiB$/);
  await expect(page.getByTestId('checksum')).toHaveText(/^[0-9a-f]{64}$/);
  await expect(page.getByTestId('figures')).toContainText('Dedup ratio');
  // The page names its configuration and says where it sits.
  await expect(page.getByTestId('configuration')).toHaveText('Home directory');
  const trail = page.getByRole('navigation', { name: 'Breadcrumb' });
  await expect(trail.getByRole('link', { name: 'Configurations' })).toHaveAttribute('href', '/configurations');
  await expect(trail).toContainText('Backup execution');

  // Bring back one directory of it, byte for byte, and nothing else.
  const target = restoreDir('restore');
  await page.getByLabel('Target directory').fill('relative/dir');
  await page.getByRole('button', { name: 'Restore files' }).click();
  await expect(page.getByRole('alert')).toContainText('is not an absolute path');
  await page.getByLabel('Target directory').fill(target);
  await page.getByLabel('Paths (optional)').fill('docs');
  await page.getByRole('button', { name: 'Restore files' }).click();
  await expect(page.getByTestId('restore-report')).toContainText('Restored 1 files');
  expect(readFileSync(join(target, 'docs', 'notes.md')).equals(readFileSync(join(src, 'docs', 'notes.md')))).toBe(true);
  expect(existsSync(join(target, 'blob-0.bin'))).toBe(false);

  // Damage in the middle of the biggest pack: asked to, the restore brings back every file it
  // can read and names the others, instead of stopping at the first.
  const packs = readdirSync(join(repo, 'packs')).flatMap((d) => readdirSync(join(repo, 'packs', d)).map((f) => join(repo, 'packs', d, f)));
  const biggest = packs.sort((a, b) => statSync(b).size - statSync(a).size)[0];
  const bytes = readFileSync(biggest);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(biggest, bytes);
  const partial = restoreDir('restore-partial');
  await page.getByLabel('Target directory').fill(partial);
  await page.getByLabel('Paths (optional)').fill('');
  await page.getByLabel('Restore everything that can be read').check();
  await page.getByRole('button', { name: 'Restore files' }).click();
  const unreadable = page.getByTestId('restore-unreadable');
  await expect(unreadable).toBeVisible();
  await expect(unreadable).toContainText('could not be read and were not restored');
  const listed = await unreadable.locator('li').allInnerTexts();
  expect(listed.length).toBeGreaterThan(0);
  for (const file of ['docs/notes.md', 'blob-0.bin', 'blob-1.bin', 'blob-2.bin']) {
    if (listed.some((line) => line.startsWith(`${file}: `))) {
      expect(existsSync(join(partial, file))).toBe(false);
    } else {
      expect(readFileSync(join(partial, file)).equals(readFileSync(join(src, file)))).toBe(true);
    }
  }

  await page.goto('/configurations');
  await expect(row.getByRole('link', { name: 'completed' })).toBeVisible();
});
