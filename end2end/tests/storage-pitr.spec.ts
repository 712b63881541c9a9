import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer, restoreDir } from './helpers';
import { freePort, PgCluster, psqlAt, stopDataDirectory } from './pg';

ownServer();

let pg: PgCluster;
const started: string[] = [];
test.beforeAll(async () => {
  pg = await PgCluster.start(['wal_level=replica', 'archive_mode=on']);
});
test.afterAll(() => {
  for (const data of started) stopDataDirectory(data);
  pg?.stop();
});

const count = (cluster: { psql(db: string, sql: string): string }) => cluster.psql('shop', 'SELECT count(*) FROM orders');

test('a continuous configuration archives WAL and is restored to a time from the console', async ({ page }) => {
  test.setTimeout(120_000);
  pg.psql('postgres', 'CREATE DATABASE shop');
  pg.psql('shop', 'CREATE TABLE orders (id serial PRIMARY KEY, note text)');

  await login(page, ADMIN);

  await page.goto('/storage');
  await hydrated(page);
  await page.getByLabel('Name').fill('WAL disk');
  await page.getByLabel('Path').fill(join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-walrepo-')), 'repo'));
  await page.getByRole('button', { name: 'Add location' }).click();
  await page.locator('tr[data-location="WAL disk"]').getByRole('button', { name: 'Initialise repository' }).click();
  await expect(page.getByTestId('recovery-kit')).toBeVisible();

  await page.goto('/configurations');
  await hydrated(page);
  await page.getByLabel('Name').fill('Shop cluster');
  await page.getByLabel('Source', { exact: true }).selectOption('postgresql');
  await page.getByLabel('Source identifier').fill(pg.url('shop'));
  await page.getByLabel('Frequency').selectOption('continuous');
  await page.getByLabel('Storage location').selectOption({ label: 'WAL disk' });
  await page.getByRole('button', { name: 'Add configuration' }).click();
  await page.getByRole('link', { name: 'Shop cluster' }).click();
  await hydrated(page);
  await expect(page.getByTestId('window-earliest')).toHaveText('—');

  // The page makes a WAL push token and gives the archive_command carrying it; the cluster takes it.
  await expect(page.getByTestId('archive-command')).toContainText('<WAL push token>');
  await page.getByRole('button', { name: 'Create a WAL push token' }).click();
  const command = (await page.getByTestId('archive-command-with-token').textContent())!;
  expect(command).toContain('Bearer bwk_');
  // The token pushes WAL and does nothing else.
  const narrow = command.match(/Bearer (bwk_[A-Za-z0-9_-]+)/)![1];
  const refused = await page.request.get('/api/admin/backups/configurations', { headers: { Authorization: `Bearer ${narrow}` } });
  expect(refused.status()).toBe(403);
  pg.psql('postgres', `ALTER SYSTEM SET archive_command = '${command.replaceAll("'", "''")}'`);
  pg.psql('postgres', 'SELECT pg_reload_conf()');

  await page.goto('/configurations');
  await hydrated(page);
  await page.locator('tr[data-configuration="Shop cluster"]').getByRole('button', { name: 'Run now' }).click();
  await expect(page).toHaveURL(/\/executions\//);
  await hydrated(page);
  await expect(page.getByTestId('status')).toHaveText('completed', { timeout: 60_000 });
  await page.getByRole('link', { name: "its configuration's page" }).click();
  await hydrated(page);
  await expect(page.getByTestId('recovery-window')).toContainText('Base backups1');

  // Two batches with the time between them noted on the database's clock.
  await new Promise((r) => setTimeout(r, 1100));
  pg.psql('shop', "INSERT INTO orders (note) SELECT 'first ' || g FROM generate_series(1, 50) g");
  await new Promise((r) => setTimeout(r, 1100));
  const between = pg.psql('shop', `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);
  await new Promise((r) => setTimeout(r, 1100));
  pg.psql('shop', "INSERT INTO orders (note) SELECT 'second ' || g FROM generate_series(1, 70) g");
  const current = pg.psql('postgres', 'SELECT pg_walfile_name(pg_current_wal_lsn())');
  pg.psql('postgres', 'SELECT pg_switch_wal()');
  await expect.poll(() => pg.psql('postgres', "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") >= current, { timeout: 30_000 }).toBe(true);

  await page.reload();
  await hydrated(page);
  const parent = restoreDir('pitr');
  const data = join(parent, 'data');
  const port = await freePort();
  await page.getByLabel('New data directory').fill(data);
  await page.getByLabel('Restore to').selectOption('time');
  await page.getByLabel('Time (RFC 3339, UTC)').fill(between);
  await page.getByLabel('Start on port (optional)').fill(String(port));
  await page.getByRole('button', { name: 'Restore', exact: true }).click();
  await expect(page.getByTestId('recover-report')).toContainText(`running on port ${port}`, { timeout: 90_000 });
  started.push(data);
  const restored = { psql: (db: string, sql: string) => psqlAt(port, db, sql, data) };
  expect(count(restored)).toBe('50');
  expect(count(pg)).toBe('120');

  // The same directory again: refused, the restored cluster untouched.
  await page.getByRole('button', { name: 'Restore', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText('is not empty; a restore never writes over data');
  expect(count(restored)).toBe('50');
});
