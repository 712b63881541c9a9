import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, type Page, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer } from './helpers';

ownServer();

/** Runs the configuration now and waits for its execution to complete; returns the page's URL. */
async function runNow(page: Page, name: string): Promise<string> {
  await page.goto('/configurations');
  await hydrated(page);
  await page.locator(`tr[data-configuration="${name}"]`).getByRole('button', { name: 'Run now' }).click();
  await expect(page).toHaveURL(/\/executions\//);
  await hydrated(page);
  await expect(page.getByTestId('status')).toHaveText('completed', { timeout: 30_000 });
  return page.url();
}

test('a policy deletes an old backup, a legal hold keeps it until released, a locked floor refuses to shrink', async ({ page }) => {
  test.setTimeout(120_000);
  const source = mkdtempSync(join(tmpdir(), 'bulwark-e2e-rotating-'));
  await login(page, ADMIN);
  await page.goto('/storage');
  await hydrated(page);
  await page.getByLabel('Name').fill('Retention disk');
  await page.getByLabel('Path').fill(join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-retrepo-')), 'repo'));
  await page.getByRole('button', { name: 'Add location' }).click();
  await page.locator('tr[data-location="Retention disk"]').getByRole('button', { name: 'Initialise repository' }).click();
  await expect(page.getByTestId('recovery-kit')).toBeVisible();

  await page.goto('/configurations');
  await hydrated(page);
  await page.getByLabel('Name').fill('Rotating logs');
  await page.getByLabel('Source identifier').fill(source);
  await page.getByLabel('Keep last').fill('1');
  await page.getByLabel('Storage location').selectOption({ label: 'Retention disk' });
  await page.getByRole('button', { name: 'Add configuration' }).click();
  await expect(page.locator('tr[data-configuration="Rotating logs"]')).toBeVisible();

  writeFileSync(join(source, 'app.log'), 'first day\n'.repeat(5000));
  const first = await runNow(page, 'Rotating logs');
  writeFileSync(join(source, 'app.log'), 'second day\n'.repeat(5000));
  await runNow(page, 'Rotating logs');
  await page.getByRole('button', { name: 'Verify now' }).click();
  await expect(page.getByTestId('verify-report')).toContainText('every file and checksum intact');

  // A legal hold on the first backup.
  await page.goto(first);
  await hydrated(page);
  const retention = page.getByTestId('retention');
  await expect(retention.getByTestId('retention-status')).toContainText('Kept as long as');
  await retention.getByLabel('Hold title').fill('Case 42');
  await retention.getByLabel('Hold reason').fill('the regulator asked for March logs');
  await retention.getByRole('button', { name: 'Place hold' }).click();
  await expect(retention.getByTestId('hold-report')).toContainText('Legal hold "Case 42" placed');
  await expect(retention.locator('tr[data-hold="Case 42"]')).toContainText('active');
  await retention.getByRole('button', { name: 'Delete backup' }).click();
  await expect(retention.getByRole('alert')).toContainText('legal hold "Case 42"');

  // The preview keeps it for the hold.
  await page.goto('/retention');
  await hydrated(page);
  await page.getByRole('button', { name: 'Preview (dry run)' }).click();
  await expect(page.getByTestId('cleanup-summary')).toContainText('would delete 0 backups');
  await expect(page.getByTestId('held')).toContainText('legal hold "Case 42"');

  // Released, the backup goes at the next cleanup, and its page says so.
  await page.goto(first);
  await hydrated(page);
  await retention.locator('tr[data-hold="Case 42"]').getByRole('button', { name: 'Release' }).click();
  await expect(page.getByTestId('release-report')).toContainText('released');
  await page.goto('/retention');
  await hydrated(page);
  await page.getByRole('button', { name: 'Preview (dry run)' }).click();
  await expect(page.getByTestId('cleanup-summary')).toContainText('would delete 1 backups');
  await expect(page.getByTestId('deleted')).toContainText('no keep rule selects it');
  await page.getByRole('button', { name: 'Run cleanup now' }).click();
  await expect(page.getByTestId('cleanup-report')).toHaveAttribute('data-dry-run', 'false');
  await expect(page.getByTestId('cleanup-summary')).toContainText('deleted 1 backups');
  await page.goto(first);
  await hydrated(page);
  await expect(retention.getByTestId('retention-status')).toContainText('Deleted at');

  // A floor locked at once (no cooling-off) can grow but not shrink.
  const locations = await (await page.request.get('/api/admin/backups/storage-locations')).json();
  const disk = locations.find((l: { locationName: string }) => l.locationName === 'Retention disk');
  await page.goto(`/storage/${disk.id}`);
  await hydrated(page);
  const floor = page.getByTestId('floor');
  await floor.getByLabel('Minimum days').fill('7');
  await floor.getByLabel('Cooling-off hours').fill('0');
  await floor.getByLabel('Lock the floor').check();
  await floor.getByRole('button', { name: 'Save floor' }).click();
  await expect(floor.getByTestId('floor-state')).toContainText('Minimum 7 days');
  await expect(floor.getByTestId('floor-state')).toContainText('locked since');
  await floor.getByLabel('Minimum days').fill('1');
  await floor.getByRole('button', { name: 'Save floor' }).click();
  await expect(floor.getByRole('alert')).toContainText('it can only grow');
});

test('a restore test restores the latest backup into a scratch directory and reports its RTO and RPO', async ({ page }) => {
  await login(page, ADMIN);
  await page.goto('/testing');
  await hydrated(page);
  await page.getByLabel('Configuration to test').selectOption({ label: 'Rotating logs' });
  await page.getByRole('button', { name: 'Run restore test' }).click();
  await expect(page.getByTestId('test-report')).toContainText('Restore test queued');
  // The worker pool runs it; the page shows it once refreshed.
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh results' }).click();
    await expect(page.getByTestId('tests').locator('tr[data-status="passed"]')).toHaveCount(1, { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await expect(page.getByTestId('test-summary')).toContainText('1 tests: 1 passed, 0 failed');
  await expect(page.getByTestId('tests').locator('tr[data-status="passed"]')).toContainText('(no target)');
});

test('a location is replicated to another and the replica lists the same snapshots', async ({ page }) => {
  test.setTimeout(60_000);
  await login(page, ADMIN);
  await page.goto('/storage');
  await hydrated(page);
  await page.getByLabel('Name').fill('Archive copy');
  await page.getByLabel('Path').fill(join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-replica-')), 'repo'));
  await page.getByRole('button', { name: 'Add location' }).click();
  await expect(page.locator('tr[data-location="Archive copy"]')).toBeVisible();

  const locations = await (await page.request.get('/api/admin/backups/storage-locations')).json();
  const id = (name: string) => locations.find((l: { locationName: string }) => l.locationName === name).id;
  await page.goto(`/storage/${id('Retention disk')}`);
  await hydrated(page);
  const source = await page.locator('tr[data-snapshot]').count();
  expect(source).toBeGreaterThan(0);
  const panel = page.getByTestId('replication');
  await panel.getByLabel('Replication target').selectOption({ label: 'Archive copy' });
  await panel.getByRole('button', { name: 'Replicate now' }).click();
  await expect(panel.getByTestId('replication-report')).toContainText('Copy queued');
  await expect(async () => {
    await panel.getByRole('button', { name: 'Refresh copies' }).click();
    await expect(panel.locator('tr[data-status="completed"]')).toHaveCount(1, { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });

  await page.goto(`/storage/${id('Archive copy')}`);
  await hydrated(page);
  await expect(page.locator('tr[data-snapshot]')).toHaveCount(source);

  // A copy rule: the next backup of a configuration on the source is copied by itself.
  await page.goto(`/storage/${id('Retention disk')}`);
  await hydrated(page);
  await panel.getByLabel('Copy rule target').selectOption({ label: 'Archive copy' });
  await panel.getByRole('button', { name: 'Add copy rule' }).click();
  await expect(panel.getByTestId('rule-report')).toContainText('Copy rule added');
  await expect(panel.locator('tr[data-rule="Archive copy"]')).toBeVisible();
  const configurations = (await (await page.request.get('/api/admin/backups/configurations')).json()).configurations;
  const rotating = configurations.find((c: { name: string }) => c.name === 'Rotating logs').id;
  const run = await page.request.post(`/api/admin/backups/configurations/${rotating}/execute`);
  expect(run.status()).toBe(200);
  const execution = (await run.json()).id;
  await expect(async () => {
    const e = await (await page.request.get(`/api/admin/backups/executions/${execution}`)).json();
    expect(e.status).toBe('completed');
    const runs = await (await page.request.get(`/api/admin/backups/storage-locations/${id('Archive copy')}/replications`)).json();
    // The rule's catch-up copy, and the one after this backup, both done.
    expect(runs.filter((r: { status: string }) => r.status === 'completed').length).toBeGreaterThanOrEqual(2);
    const replica = await (await page.request.get(`/api/admin/backups/storage-locations/${id('Archive copy')}/snapshots`)).json();
    expect(replica.some((s: { id: string }) => s.id === e.snapshotId)).toBe(true);
  }).toPass({ timeout: 45_000 });
  await panel.getByRole('button', { name: 'Remove rule' }).click();
  await expect(panel.getByTestId('rule-removed')).toContainText('Copy rule removed');
  await expect(panel.getByTestId('rules')).toContainText('No copy rule');
});

test('the catalog rebuild adds nothing to a whole catalog, and attaching refuses a location without a repository', async ({ page }) => {
  await login(page, ADMIN);
  await page.goto('/storage');
  await hydrated(page);
  const recovery = page.getByTestId('recovery');
  await recovery.getByRole('button', { name: 'Rebuild the catalog' }).click();
  await expect(recovery.getByTestId('rebuild-report')).toContainText('0 executions and 0 configurations added');
  await page.getByLabel('Name').fill('Unattached disk');
  await page.getByLabel('Path').fill(join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-unattached-')), 'repo'));
  await page.getByRole('button', { name: 'Add location' }).click();
  await expect(page.locator('tr[data-location="Unattached disk"]')).toBeVisible();
  await page.reload();
  await hydrated(page);
  await recovery.getByLabel('Location to attach').selectOption({ label: 'Unattached disk' });
  await recovery.getByLabel('Recovery key file').fill('0'.repeat(64));
  await recovery.getByRole('button', { name: 'Attach repository' }).click();
  await expect(recovery.getByRole('alert')).toContainText('no repository');
});
