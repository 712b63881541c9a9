import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { ADMIN, appCode, hydrated, login, ownServer, restoreDir } from './helpers';
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

test('an operator requests a production database restore; it waits; an approver approves with a code; it runs; a rollback puts the rows back', async ({ page, request }) => {
  test.setTimeout(240_000);
  const olga = { username: 'olga', password: 'olga-password-1234' };
  const abe = { username: 'abe', password: 'abe-password-12345' };
  pg.psql('postgres', 'CREATE DATABASE shop');
  pg.psql('shop', `CREATE TABLE orders (id int PRIMARY KEY, total numeric); INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 20000) g;`);
  const sum = (db: string) => pg.psql(db, 'SELECT md5(string_agg(t::text, \'|\' ORDER BY t.id)) FROM orders t');

  // An administrator prepares, over REST: two users, a repository, a backup, a production target,
  // and a production policy that asks approvers for a second-factor code.
  await login(page, ADMIN);
  await page.goto('/account');
  await hydrated(page);
  await page.getByLabel('Name').fill('restoration-setup');
  await page.getByLabel('Role').selectOption('admin');
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = (await page.getByTestId('new-token').textContent()) ?? '';
  const auth = { Authorization: `Bearer ${token}` };
  const post = async (path: string, data: object, status = 201) => {
    const r = await request.post(path, { headers: auth, data });
    expect(r.status(), await r.text()).toBe(status);
    return r.json();
  };
  await post('/api/admin/users', { ...olga, role: 'operator' });
  await post('/api/admin/users', { ...abe, role: 'approver' });
  const location = await post('/api/admin/backups/storage-locations', {
    locationName: 'Orders disk', storageType: 'primary', provider: 'local', pathPrefix: join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-restoration-')), 'repo'),
  });
  await post(`/api/admin/backups/storage-locations/${location.id}/init`, {});
  const config = await post('/api/admin/backups/configurations', { name: 'Shop', sourceType: 'postgresql', sourceIdentifier: pg.url('shop'), storageLocationIds: [location.id], rtoMinutes: 30 });
  const run = await post(`/api/admin/backups/configurations/${config.id}/execute`, {}, 200);
  await expect.poll(async () => (await (await request.get(`/api/admin/backups/executions/${run.executionId}`, { headers: auth })).json()).status, { timeout: 60_000 }).toBe('completed');
  await post('/api/admin/backups/restore-targets', { name: 'prod-db', environment: 'production', targetType: 'postgresql', url: `postgresql://postgres@127.0.0.1:${pg.port}` });
  const policy = { environment: 'production', requireApproval: 'always', approversRequired: 1, requireTotp: true, validityHours: 24, breakGlassAllowed: false, rollbackHours: 24 };
  expect((await request.put('/api/admin/backups/approval-policies/production', { headers: auth, data: policy })).status()).toBe(200);
  await page.getByRole('button', { name: 'Log out' }).click();

  // The operator asks for a production restore into a new database: it waits for approval.
  await login(page, olga);
  await page.goto('/restoration');
  await hydrated(page);
  const form = page.getByTestId('request-restoration');
  await expect(form.getByLabel('Backup', { exact: true })).toContainText('Shop');
  await form.getByLabel('Target environment').selectOption('production');
  await expect(page.getByTestId('production-warning')).toBeVisible();
  await form.getByLabel('Target', { exact: true }).selectOption('prod-db');
  await form.getByLabel('Inside the target (optional)').fill('shop_restored');
  await form.getByLabel('Incident reference').fill('INC-1207');
  await form.getByRole('button', { name: 'Request restoration' }).click();
  await expect(page).toHaveURL(/\/restoration\/[0-9a-f-]{36}$/);
  const job = page.url();
  await hydrated(page);
  await expect(page.getByTestId('status')).toHaveText('approval_required');
  await expect(page.getByTestId('approval')).toContainText('0 of 1 approvals, each with a second-factor code');
  // The requester cannot approve it.
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByRole('alert').first()).toBeVisible();
  await page.reload();
  await expect(page.getByTestId('status')).toHaveText('approval_required');
  // The dashboard shows it under way, with its progress bar.
  await page.goto('/');
  const underWay = page.getByTestId('active-restorations').locator(`[data-restoration="${job.split('/').pop()}"]`);
  await expect(underWay).toHaveAttribute('data-status', 'approval_required');
  await expect(underWay.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '0');
  await page.getByRole('button', { name: 'Log out' }).click();

  // The approver sets up a second factor, sees the request counted in the navigation, and
  // approves it with a fresh code.
  await login(page, abe);
  await expect(page.getByTestId('approvals-badge')).toHaveText('1');
  await page.goto('/account');
  await hydrated(page);
  await page.getByRole('button', { name: 'Set up' }).click();
  const key = (await page.getByTestId('totp-secret').textContent()) ?? '';
  const now = Math.floor(Date.now() / 1000);
  await page.getByLabel('Code', { exact: true }).fill(appCode(key, now));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await expect(page.getByRole('status')).toContainText('On: logging in asks for a code');
  await page.goto('/approvals');
  await hydrated(page);
  const pending = page.getByTestId('pending-approvals');
  await expect(pending).toContainText('shop_restored');
  await expect(pending).toContainText('INC-1207');
  await pending.getByRole('link', { name: 'Review' }).click();
  await expect(page).toHaveURL(job);
  await hydrated(page);
  // The code that turned the factor on is spent; the next one works.
  await page.getByLabel('Code from your authenticator').fill(appCode(key, now));
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByRole('alert').first()).toContainText('totpCode: wrong, expired or already used');
  await page.getByLabel('Code from your authenticator').fill(appCode(key, now + 30));
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByTestId('approved')).toContainText('Approved: the restore is queued');

  // The page follows the restore live until it ends; the restored rows equal the backed-up ones.
  await expect(page.getByTestId('status')).toHaveText('completed', { timeout: 60_000 });
  await expect(page.getByTestId('progress')).toHaveAttribute('aria-valuenow', '100');
  await expect(page.getByTestId('duration')).toContainText('RTO 30 min: met');
  expect(sum('shop_restored')).toBe(sum('shop'));

  // The same database again holds the table now: nothing runs, and a new database is offered.
  await page.goto('/restoration');
  await hydrated(page);
  await form.getByLabel('Target environment').selectOption('production');
  await form.getByLabel('Target', { exact: true }).selectOption('prod-db');
  await form.getByLabel('Inside the target (optional)').fill('shop_restored');
  await form.getByRole('button', { name: 'Request restoration' }).click();
  await expect(page.getByTestId('status')).toHaveText('conflict_detected');
  await expect(page.getByTestId('conflicts')).toContainText('database shop_restored already has 1 tables');
  const first = page.url();
  await page.getByRole('button', { name: 'Restore into a new database inside prod-db' }).click();
  await expect(page).not.toHaveURL(first);
  await expect(page.getByTestId('status')).toHaveText('approval_required');
  await expect(page.getByTestId('target')).toContainText('prod-db/shop_restored_restored_');
  await page.getByRole('button', { name: 'Log out' }).click();

  // Someone changes the restored database; then the operator has its tables replaced again,
  // after a safety snapshot. A second approver (no code asked any more) approves.
  const ada = { username: 'ada', password: 'ada-password-123456' };
  await post('/api/admin/users', { ...ada, role: 'approver' });
  expect((await request.put('/api/admin/backups/approval-policies/production', { headers: auth, data: { ...policy, requireTotp: false } })).status()).toBe(200);
  pg.psql('shop_restored', 'UPDATE orders SET total = -1 WHERE id <= 5; DELETE FROM orders WHERE id > 19990;');
  const changed = sum('shop_restored');
  expect(changed).not.toBe(sum('shop'));
  await login(page, olga);
  await page.goto(first);
  await hydrated(page);
  await page.getByRole('button', { name: /Replace the tables prod-db\/shop_restored holds, after a safety snapshot/ }).click();
  await expect(page).not.toHaveURL(first);
  await expect(page.getByTestId('status')).toHaveText('approval_required');
  const replace = page.url();
  await page.getByRole('button', { name: 'Log out' }).click();

  await login(page, ada);
  await page.goto(replace);
  await hydrated(page);
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByTestId('status')).toHaveText('completed', { timeout: 60_000 });
  expect(sum('shop_restored')).toBe(sum('shop'));
  await expect(page.getByTestId('safety')).toContainText('what the target held before this restore');
  const rollback = page.getByTestId('rollback');
  await expect(rollback).toContainText('h 59 min left');
  await rollback.getByLabel('Reason').fill('the changed rows were right');
  await rollback.getByRole('button', { name: 'Roll back this restore' }).click();
  await expect(page).not.toHaveURL(replace);
  await expect(page.getByTestId('status')).toHaveText('approval_required');
  await expect(page.getByTestId('rollback-of')).toBeVisible();
  const back = page.url();
  await page.getByRole('button', { name: 'Log out' }).click();

  // Another approver approves the rollback: the rows are exactly those before the restore.
  await login(page, ADMIN);
  await page.goto(back);
  await hydrated(page);
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByTestId('status')).toHaveText('completed', { timeout: 60_000 });
  expect(sum('shop_restored')).toBe(changed);
  await page.goto(replace);
  await expect(page.getByTestId('status')).toHaveText('rolled_back');
  await expect(page.getByTestId('rollback')).toHaveCount(0);
});
