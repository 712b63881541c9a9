import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer, restoreDir } from './helpers';
import { PgCluster } from './pg';

ownServer();

let pg: PgCluster;
test.beforeAll(async () => {
  pg = await PgCluster.start();
});
test.afterAll(() => pg?.stop());

test('an admin names restore targets on the Restoration page and tests that they really answer', async ({ page }) => {
  await login(page, ADMIN);
  await page.goto('/restoration');
  await hydrated(page);
  const panel = page.getByTestId('restore-targets');
  await expect(panel).toContainText('No restore targets yet');

  // Outside what the server allows: refused, naming the field.
  await panel.getByLabel('Name').fill('Anywhere');
  await panel.getByLabel('Type').selectOption('directory');
  await panel.getByLabel('Directory').fill('/etc/restored');
  await panel.getByRole('button', { name: 'Add target' }).click();
  await expect(panel.getByRole('alert')).toContainText('path: /etc/restored is not under a restore root');

  // A directory below the restore root that does not exist yet.
  const dir = join(restoreDir('targets'), 'staging-files');
  await panel.getByLabel('Name').fill('Staging files');
  await panel.getByLabel('Environment').selectOption('staging');
  await panel.getByLabel('Directory').fill(dir);
  await panel.getByRole('button', { name: 'Add target' }).click();
  await expect(panel.getByTestId('target-created')).toContainText('Restore target "Staging files" added (directory in staging).');
  const files = panel.locator('tr[data-target="Staging files"]');
  await expect(files).toContainText('never tested');
  await files.getByRole('button', { name: 'Test connection' }).click();
  await expect(panel.getByTestId('target-test')).toContainText('does not exist yet (a restore creates it)');
  await expect(files).toContainText('works:');

  // A PostgreSQL server: really connected to.
  await panel.getByLabel('Name').fill('Production orders');
  await panel.getByLabel('Environment').selectOption('production');
  await panel.getByLabel('Type').selectOption('postgresql');
  await panel.getByLabel('Server URL').fill(`postgresql://postgres@127.0.0.1:${pg.port}/orders`);
  await panel.getByRole('button', { name: 'Add target' }).click();
  const db = panel.locator('tr[data-target="Production orders"]');
  await expect(db).toContainText('production');
  await db.getByRole('button', { name: 'Test connection' }).click();
  await expect(panel.getByTestId('target-test')).toContainText('connected to PostgreSQL 15');

  // Production first; a removed target is gone.
  await expect(panel.locator('tr[data-target]').first()).toHaveAttribute('data-target', 'Production orders');
  await files.getByRole('button', { name: 'Delete' }).click();
  await expect(panel.getByTestId('target-deleted')).toContainText('Restore target removed.');
  await expect(files).toHaveCount(0);
});
