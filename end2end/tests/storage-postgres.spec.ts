import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer } from './helpers';
import { PgCluster } from './pg';

ownServer();

let pg: PgCluster;
test.beforeAll(async () => {
  pg = await PgCluster.start();
});
test.afterAll(() => pg?.stop());

/** md5 of a table's rows in key order: equal sums, equal data. */
const sum = (db: string, table: string) => pg.psql(db, `SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM ${table} t`);

test('a PostgreSQL database is backed up from the console and restored whole, then one table', async ({ page }) => {
  test.setTimeout(90_000);
  pg.psql('postgres', 'CREATE DATABASE shop');
  pg.psql(
    'shop',
    `CREATE TABLE customers (id int PRIMARY KEY, name text);
     INSERT INTO customers VALUES (1, 'Zoë Ångström'), (2, '山田 太郎');
     CREATE TABLE orders (id int PRIMARY KEY, customer int, total numeric);
     INSERT INTO orders SELECT g, 1 + g % 2, g * 1.5 FROM generate_series(1, 20000) g;`,
  );

  await login(page, ADMIN);
  await page.goto('/storage');
  await hydrated(page);
  await page.getByLabel('Name').fill('Database disk');
  await page.getByLabel('Path').fill(join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-pgrepo-')), 'repo'));
  await page.getByRole('button', { name: 'Add location' }).click();
  await page.locator('tr[data-location="Database disk"]').getByRole('button', { name: 'Initialise repository' }).click();
  await expect(page.getByTestId('recovery-kit')).toBeVisible();

  await page.goto('/configurations');
  await hydrated(page);
  await page.getByLabel('Name').fill('Shop database');
  await page.getByLabel('Source', { exact: true }).selectOption('postgresql');
  await page.getByLabel('Source identifier').fill(pg.url('shop'));
  await page.getByLabel('Storage location').selectOption({ label: 'Database disk' });
  await page.getByRole('button', { name: 'Add configuration' }).click();
  const row = page.locator('tr[data-configuration="Shop database"]');
  await row.getByRole('button', { name: 'Run now' }).click();
  await expect(page).toHaveURL(/\/executions\//);
  await hydrated(page);
  await expect(page.getByTestId('status')).toHaveText('completed', { timeout: 60_000 });
  await expect(page.locator('pre')).toContainText('"customers"');

  // The whole database, into one Bulwark creates.
  await page.getByLabel('Target database URL').fill(pg.url('shop_restored'));
  await page.getByRole('button', { name: 'Restore', exact: true }).click();
  await expect(page.getByTestId('restore-report')).toContainText('Restored the whole database into');
  for (const table of ['customers', 'orders']) expect(sum('shop_restored', table)).toBe(sum('shop', table));

  // One dropped table comes back; the other keeps what changed since.
  pg.psql('shop_restored', 'DROP TABLE customers; DELETE FROM orders WHERE id > 10000');
  await page.getByLabel('Tables (optional)').fill('public.customers');
  await page.getByRole('button', { name: 'Restore', exact: true }).click();
  await expect(page.getByTestId('restore-report')).toContainText('Restored public.customers into');
  expect(sum('shop_restored', 'customers')).toBe(sum('shop', 'customers'));
  expect(pg.psql('shop_restored', 'SELECT count(*) FROM orders')).toBe('10000');

  // The table exists now: a clear refusal, nothing restored.
  await page.getByRole('button', { name: 'Restore', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText('table public.customers already exists in shop_restored');
});
