import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer } from './helpers';

ownServer();

/** A service the test runs: /health answers 200 "ready" until it is told to fail. */
let target: Server;
let targetUrl = '';
let failing = false;

test.beforeAll(async () => {
  target = createServer((_req, res) => {
    if (failing) res.writeHead(503).end('down');
    else res.writeHead(200).end('ready');
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/health`;
});

test.afterAll(() => target.close());

test('an admin adds a service, checks it healthy and failing, and the node samples itself', async ({ page }) => {
  await login(page, ADMIN);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Monitoring', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Monitoring' })).toBeVisible();
  await hydrated(page);

  // A zero interval is a sentence, and nothing is added.
  const form = page.getByTestId('add-service');
  await form.getByLabel('Name').fill('api');
  await form.getByLabel('URL (HTTP)').fill(targetUrl);
  await form.getByLabel('Text the body must contain (HTTP)').fill('ready');
  await form.getByLabel('Every (seconds)').fill('0');
  await form.getByRole('button', { name: 'Add service' }).click();
  await expect(page.getByRole('alert')).toHaveText('intervalSeconds: from 5 to 86,400 seconds');
  await expect(page.getByText('No services are monitored yet')).toBeVisible();

  await form.getByLabel('Every (seconds)').fill('3600');
  await form.getByRole('button', { name: 'Add service' }).click();
  const row = page.getByTestId('services').locator('tr[data-service="api"]');
  await expect(row).toBeVisible();
  // The node's prober takes it within seconds; "Check now" probes it at once.
  await row.getByRole('button', { name: 'Check now' }).click();
  await expect(page.getByTestId('check-outcome')).toContainText(`api: healthy — GET ${targetUrl} answered 200 OK with "ready"`);
  await expect(row).toHaveAttribute('data-status', 'healthy');

  failing = true;
  await row.getByRole('button', { name: 'Check now' }).click();
  await expect(page.getByTestId('check-outcome')).toContainText('api: unhealthy — GET');
  await expect(row).toHaveAttribute('data-status', 'unhealthy');
  await expect(row).toContainText('answered 503 Service Unavailable, not 2xx or 3xx');

  // The last hour lists the service and this node's own samples.
  await page.reload();
  await hydrated(page);
  const summary = page.getByTestId('samples-summary');
  await expect(summary.locator('tr[data-service="api"]')).toContainText('unhealthy');
  await expect(summary.locator('tr[data-service^="node:"]')).toHaveCount(1, { timeout: 15_000 });

  // Maintenance: the service's alerts silenced for an hour, listed on the Alerts page.
  const silenced = page.getByTestId('services').locator('tr[data-service="api"]');
  await silenced.getByLabel('Silence for').selectOption('60');
  await silenced.getByLabel('Reason').fill('upgrading the API');
  await silenced.getByRole('button', { name: 'Silence' }).click();
  await expect(page.getByTestId('silence-outcome')).toContainText("api's alerts are silenced until ");
  await page.goto('/alerts');
  await hydrated(page);
  await expect(page.getByText('upgrading the API')).toBeVisible();
});
