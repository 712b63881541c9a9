import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer } from './helpers';

ownServer();

test('the Cost page tracks a day, draws its charts, and refuses a negative price', async ({ page }) => {
  test.setTimeout(90_000);
  await login(page, ADMIN);

  // A priced location holding one backup (over REST, with the session).
  const repo = join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-cost-')), 'repo');
  const location = await page.request.post('/api/admin/backups/storage-locations', {
    data: { locationName: 'Cost disk', storageType: 'primary', provider: 'local', pathPrefix: repo, costPerGbMonth: 900, costPer1kRequests: 5, costPerGbTransfer: 90 },
  });
  expect(location.status(), await location.text()).toBe(201);
  const locationId = (await location.json()).id;
  expect((await page.request.post(`/api/admin/backups/storage-locations/${locationId}/init`)).ok()).toBe(true);
  const source = mkdtempSync(join(tmpdir(), 'bulwark-e2e-cost-src-'));
  writeFileSync(join(source, 'data.bin'), Buffer.alloc(3 << 20, 7));
  writeFileSync(join(source, 'notes.txt'), 'what this costs\n'.repeat(10_000));
  const created = await page.request.post('/api/admin/backups/configurations', {
    data: { name: 'Cost files', sourceType: 'filesystem', sourceIdentifier: source, storageLocationIds: [locationId] },
  });
  expect(created.status(), await created.text()).toBe(201);
  const run = await page.request.post(`/api/admin/backups/configurations/${(await created.json()).id}/execute`);
  expect(run.ok()).toBe(true);
  const executionId = (await run.json()).executionId ?? (await run.json()).id;
  await expect(async () => {
    const e = await (await page.request.get(`/api/admin/backups/executions/${executionId}`)).json();
    expect(e.status).toBe('completed');
  }).toPass({ timeout: 30_000 });

  await page.goto('/cost');
  await hydrated(page);
  await expect(page.getByText('No cost data yet')).toBeVisible();
  await page.getByRole('button', { name: 'Track today now' }).click();
  await expect(page.getByTestId('track-outcome')).toContainText("Today's cost is tracked: 1 row.");
  await expect(page.getByTestId('cost-by-configuration')).toContainText('Cost files');
  const estimate = Number(await page.getByTestId('monthly-estimate').textContent());
  expect(estimate).toBeGreaterThan(0);

  // Each chart is drawn: a canvas with pixels that are not all blank.
  for (const id of ['cost-chart', 'storage-chart', 'location-chart']) {
    const canvas = page.getByTestId(id).locator('canvas');
    await expect(canvas).toHaveCount(1);
    await expect
      .poll(() =>
        canvas.evaluate((c: HTMLCanvasElement) => {
          const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          let painted = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
          return painted;
        }),
      )
      .toBeGreaterThan(500);
  }

  // The seeds' answers say the same figures.
  const analysis = await (await page.request.get('/api/admin/backups/cost/analysis?period=30d&breakdown=true')).json();
  expect(analysis.totalCost).toBeGreaterThan(0);
  expect(analysis.costBreakdown.storage).toBeGreaterThan(0);
  expect(analysis.costByLocation[0].locationName).toBe('Cost disk');
  const utilization = await (await page.request.get('/api/admin/backups/storage/utilization?period=30d&groupBy=location')).json();
  expect(utilization.storageByLocation[0].storageUsed).toBe(utilization.totalStorage);
  expect(utilization.storageByConfiguration[0].configurationName).toBe('Cost files');

  // A negative price is a sentence; the saved one stays.
  const row = page.getByTestId('prices').locator('tr[data-location="Cost disk"]');
  await row.getByLabel('Per GB-month').fill('-3');
  await row.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('alert')).toHaveText('costPerGbMonth: a price from 0 to 1,000 per GB-month');
  expect((await (await page.request.get(`/api/admin/backups/storage-locations/${locationId}/prices`)).json()).costPerGbMonth).toBe(900);
});
