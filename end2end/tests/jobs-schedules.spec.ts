import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, type Page, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer } from './helpers';
import { PgCluster } from './pg';

ownServer();

async function addLocation(page: Page, name: string) {
  await page.goto('/storage');
  await hydrated(page);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Path').fill(join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-jobs-')), 'repo'));
  await page.getByRole('button', { name: 'Add location' }).click();
  await page.locator(`tr[data-location="${name}"]`).getByRole('button', { name: 'Initialise repository' }).click();
  await expect(page.getByTestId('recovery-kit')).toBeVisible();
}

test('a schedule fires by itself, its slots and jobs are shown, and a bad cron is refused beside the field', async ({ page }) => {
  test.setTimeout(90_000);
  const source = mkdtempSync(join(tmpdir(), 'bulwark-e2e-ticking-'));
  writeFileSync(join(source, 'app.conf'), 'mode = production\n');
  await login(page, ADMIN);
  await addLocation(page, 'Schedule disk');

  await page.goto('/configurations');
  await hydrated(page);
  await page.getByLabel('Name').fill('Ticking files');
  await page.getByLabel('Source identifier').fill(source);
  await page.getByLabel('Frequency').selectOption('custom');
  await page.getByLabel('Schedule').fill('61 * * * *');
  await page.getByLabel('Storage location').selectOption({ label: 'Schedule disk' });
  await page.getByRole('button', { name: 'Add configuration' }).click();
  await expect(page.getByRole('alert')).toContainText('schedule: "61 * * * *" is not a cron expression');

  // Every four seconds (six fields: seconds first).
  await page.getByLabel('Schedule').fill('*/4 * * * * *');
  await page.getByRole('button', { name: 'Add configuration' }).click();
  const row = page.locator('tr[data-configuration="Ticking files"]');
  await expect(row.getByTestId('next-run')).toHaveText(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);

  await row.getByRole('link', { name: 'Ticking files' }).click();
  await hydrated(page);
  const schedule = page.getByTestId('schedule');
  await expect(schedule.locator('code').first()).toHaveText('*/4 * * * * *');
  // The slot fires with nobody clicking; the page shows it once reloaded.
  await expect(async () => {
    await page.reload();
    await expect(schedule.getByRole('link').first()).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await schedule.getByRole('link').first().click();
  await hydrated(page);
  await expect(page.getByTestId('status')).toHaveText('completed', { timeout: 30_000 });
  await expect(page.getByTestId('execution')).toContainText('· scheduled');

  await page.goto('/jobs');
  await hydrated(page);
  await expect(page.getByTestId('jobs').locator('tr[data-state="succeeded"]').getByRole('link', { name: 'backup' }).first()).toBeVisible();
  await page.getByLabel('State').selectOption('failed');
  await expect(page.getByTestId('jobs').locator('tr[data-state="succeeded"]')).toHaveCount(0);

  // Back to manual through the API, so the rest of the suite runs without it.
  const list = (await (await page.request.get('/api/admin/backups/configurations')).json()).configurations;
  const ticking = list.find((c: { name: string }) => c.name === 'Ticking files');
  const put = await page.request.put(`/api/admin/backups/configurations/${ticking.id}`, {
    data: { name: ticking.name, sourceType: ticking.sourceType, sourceIdentifier: ticking.sourceIdentifier, storageLocationIds: ticking.storageLocationIds, frequency: 'manual' },
  });
  expect(put.status()).toBe(200);
  await page.goto(`/configurations/${ticking.id}`);
  await expect(page.getByTestId('schedule')).toContainText('Runs only when asked');
});

test('a running backup is cancelled from its page and leaves no snapshot', async ({ page }) => {
  test.setTimeout(90_000);
  const pg = await PgCluster.start();
  let locker: ChildProcess | undefined;
  try {
    pg.psql('postgres', 'CREATE DATABASE ledger');
    pg.psql('ledger', "CREATE TABLE entries (id int PRIMARY KEY, memo text); INSERT INTO entries SELECT g, 'memo ' || g FROM generate_series(1, 500) g");
    // A session holding the table: pg_dump waits behind it, so the backup stays running.
    locker = spawn('psql', ['-X', '-q', '-h', '127.0.0.1', '-U', 'postgres', '-p', String(pg.port), '-d', 'ledger'], { stdio: ['pipe', 'ignore', 'ignore'] });
    locker.stdin!.write('BEGIN; LOCK TABLE entries IN ACCESS EXCLUSIVE MODE;\n');

    await login(page, ADMIN);
    await addLocation(page, 'Cancel disk');
    await page.goto('/configurations');
    await hydrated(page);
    await page.getByLabel('Name').fill('Ledger db');
    await page.getByLabel('Source', { exact: true }).selectOption('postgresql');
    await page.getByLabel('Source identifier').fill(pg.url('ledger'));
    await page.getByLabel('Storage location').selectOption({ label: 'Cancel disk' });
    await page.getByRole('button', { name: 'Add configuration' }).click();
    await page.locator('tr[data-configuration="Ledger db"]').getByRole('button', { name: 'Run now' }).click();
    await expect(page).toHaveURL(/\/executions\//);
    await hydrated(page);
    await expect(page.getByTestId('status')).toHaveText('running', { timeout: 20_000 });

    await page.getByRole('button', { name: 'Cancel backup' }).click();
    await expect(page.getByTestId('cancel-report')).toContainText('Cancelling');
    await expect(page.getByTestId('status')).toHaveText('cancelled', { timeout: 20_000 });
    await expect(page.getByTestId('error')).toContainText('no snapshot was written');
    await expect(page.getByRole('button', { name: 'Cancel backup' })).toBeHidden();

    const locations = await (await page.request.get('/api/admin/backups/storage-locations')).json();
    const disk = locations.find((l: { locationName: string }) => l.locationName === 'Cancel disk');
    const snapshots = await (await page.request.get(`/api/admin/backups/storage-locations/${disk.id}/snapshots`)).json();
    expect(snapshots).toHaveLength(0);
  } finally {
    locker?.kill('SIGKILL');
    pg.stop();
  }
});
