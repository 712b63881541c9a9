import { createServer } from 'node:net';
import { expect, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer } from './helpers';

ownServer();

// A plan written in YAML in the console, approved by a second person, drilled from the DR
// dashboard: its steps turn green as the run goes (the page follows the run's event stream),
// and the ledger shows the measured RTO.
test('a plan from YAML, approved by another, drilled from the dashboard; the ledger measures it', async ({ page, baseURL }) => {
  test.setTimeout(120_000);
  const abe = { username: 'abe', password: 'abe-password-12345' };

  // The administrator adds an approver (over REST, with a token from Account).
  await login(page, ADMIN);
  await page.goto('/account');
  await hydrated(page);
  await page.getByLabel('Name').fill('recovery-setup');
  await page.getByLabel('Role').selectOption('admin');
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = (await page.getByTestId('new-token').textContent()) ?? '';
  const created = await page.request.post('/api/admin/users', { headers: { Authorization: `Bearer ${token}` }, data: { ...abe, role: 'approver' } });
  expect(created.status(), await created.text()).toBe(201);

  // A plan of three checks, two of them side by side. The last checks a service this test
  // starts only once the run's page shows that check failing and retrying, so the page is
  // seen turning green as the run goes on.
  const base = baseURL ?? '';
  const late = createServer((socket) => socket.end());
  const latePort = await new Promise<number>((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => resolve(port));
    });
  });
  const document = [
    'name: Console drill',
    'disasterScenario: software_corruption',
    'disasterType: database_corruption',
    'severity: 3',
    'estimatedRtoMinutes: 10',
    'estimatedRpoMinutes: 5',
    'steps:',
    '  - name: server answers',
    '    type: validation',
    `    config: { http: { url: "${base}/healthz" } }`,
    '  - name: login page',
    '    type: validation',
    '    parallelGroup: pages',
    `    config: { http: { url: "${base}/login", contains: "Log in" } }`,
    '  - name: late service',
    '    type: validation',
    '    parallelGroup: pages',
    '    maxRetries: 20',
    '    backoff: { baseSeconds: 0.5, capSeconds: 1 }',
    `    config: { tcp: "127.0.0.1:${latePort}" }`,
    '',
  ].join('\n');
  await page.goto('/disaster-recovery/plans/new');
  await hydrated(page);
  // A document with a mistake is refused, naming the step and the field.
  await page.getByLabel('Plan document (YAML or JSON)').fill(document.replace('maxRetries: 20', 'maxRetries: 99'));
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByText('step `late service`, maxRetries: 0 to 20')).toBeVisible();
  await page.getByLabel('Plan document (YAML or JSON)').fill(document);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page).toHaveURL(/\/disaster-recovery\/plans\/[0-9a-f-]{36}$/);
  const planUrl = new URL(page.url()).pathname;
  await hydrated(page);
  // The author cannot approve their own plan.
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'another approver must approve it' })).toBeVisible();
  await page.getByRole('button', { name: 'Log out' }).click();

  // The approver approves it.
  await login(page, abe);
  await page.goto(planUrl);
  await hydrated(page);
  await page.getByLabel('Comment (optional)').fill('reviewed the checks');
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByTestId('plan-summary')).toHaveAttribute('data-approval', 'approved', { timeout: 10_000 });
  await page.goto('/disaster-recovery');
  await hydrated(page);
  const row = page.locator('tr[data-plan="Console drill"]');
  await expect(row).toHaveAttribute('data-approval', 'approved');
  await page.getByRole('button', { name: 'Log out' }).click();

  // The administrator drills it from the dashboard and watches it on the run's page.
  await login(page, ADMIN);
  await page.goto('/disaster-recovery');
  await hydrated(page);
  await page.locator('tr[data-plan="Console drill"]').getByRole('button', { name: 'Run drill' }).click();
  await expect(page).toHaveURL(/\/disaster-recovery\/runs\/[0-9a-f-]{36}$/);
  await hydrated(page);
  const steps = page.getByTestId('steps');
  await expect(steps.locator('[data-status]')).toHaveCount(3);
  const lateStep = steps.locator('article[data-step="late service"] [data-status]');
  await expect(lateStep).toHaveAttribute('data-status', 'retrying', { timeout: 30_000 });
  await expect(steps.locator('article[data-step="server answers"] [data-status]')).toHaveAttribute('data-status', 'completed');
  await new Promise<void>((resolve) => late.listen(latePort, '127.0.0.1', () => resolve()));
  await expect(steps.locator('[data-status="completed"]')).toHaveCount(3, { timeout: 30_000 });
  await expect(page.getByTestId('run')).toHaveAttribute('data-run-status', 'completed');
  late.close();

  // The ledger shows the drill with its measured RTO.
  await page.goto(planUrl);
  await hydrated(page);
  const measured = page.getByTestId('measured-rto').first();
  await expect(measured).toBeVisible();
  await expect(measured).not.toHaveText('');
  await expect(measured).not.toHaveText(/^(—|-|not measured)$/);
});

// A run asked for ahead: the requester asks on the DR dashboard, an approver approves it on the
// Approvals page, and only then can the requester start it; the run names who signed it off.
test('a run asked for ahead is approved by another, then started by its requester', async ({ page, baseURL }) => {
  test.setTimeout(120_000);
  const ann = { username: 'ann', password: 'ann-password-12345' };
  await login(page, ADMIN);
  await page.goto('/account');
  await hydrated(page);
  await page.getByLabel('Name').fill('requests-setup');
  await page.getByLabel('Role').selectOption('admin');
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = (await page.getByTestId('new-token').textContent()) ?? '';
  const headers = { Authorization: `Bearer ${token}` };
  expect((await page.request.post('/api/admin/users', { headers, data: { ...ann, role: 'approver' } })).status()).toBe(201);
  const document = [
    'name: Asked ahead',
    'disasterScenario: hardware_failure',
    'disasterType: region_outage',
    'severity: 2',
    'estimatedRtoMinutes: 10',
    'estimatedRpoMinutes: 5',
    'steps:',
    '  - name: server answers',
    '    type: validation',
    `    config: { http: { url: "${baseURL}/healthz" } }`,
    '',
  ].join('\n');
  const plan = await page.request.post('/api/disaster-recovery/plans', { headers, data: { document } });
  expect(plan.status(), await plan.text()).toBe(201);
  const planId = (await plan.json()).summary.id as string;
  await page.getByRole('button', { name: 'Log out' }).click();

  // The approver approves the plan; the administrator asks to run it.
  await login(page, ann);
  await page.goto(`/disaster-recovery/plans/${planId}`);
  await hydrated(page);
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByTestId('plan-summary')).toHaveAttribute('data-approval', 'approved', { timeout: 10_000 });
  await page.getByRole('button', { name: 'Log out' }).click();
  await login(page, ADMIN);
  await page.goto('/disaster-recovery');
  await hydrated(page);
  const panel = page.getByTestId('run-requests');
  await panel.getByLabel('Plan').selectOption({ label: 'Asked ahead' });
  await panel.getByLabel('Reason').fill('eu-west lost');
  await panel.getByLabel('Incident reference').fill('INC-42');
  await panel.getByRole('button', { name: 'Ask an approver' }).click();
  await expect(page.getByTestId('run-request-outcome')).toContainText('an approver other than you decides');
  const row = panel.locator('tr[data-status="pending"]').filter({ hasText: 'eu-west lost' });
  await expect(row).toBeVisible();
  await expect(row.getByRole('button', { name: 'Start the run' })).toHaveCount(0);
  await page.getByRole('button', { name: 'Log out' }).click();

  // The approver approves the run on the Approvals page.
  await login(page, ann);
  await page.goto('/approvals');
  await hydrated(page);
  const pending = page.getByTestId('pending-run-requests').locator('li').filter({ hasText: 'eu-west lost' });
  await pending.getByLabel('Comment').fill('go ahead');
  await pending.getByRole('button', { name: 'Approve run' }).click();
  await expect(page.getByTestId('run-request-decision')).toContainText('Approved: admin can start the run of Asked ahead');
  await page.getByRole('button', { name: 'Log out' }).click();

  // The requester starts it; the run names its approver.
  await login(page, ADMIN);
  await page.goto('/disaster-recovery');
  await hydrated(page);
  await page.getByTestId('run-requests').locator('tr[data-status="approved"]').getByRole('button', { name: 'Start the run' }).click();
  await expect(page).toHaveURL(/\/disaster-recovery\/runs\/[0-9a-f-]{36}$/);
  await hydrated(page);
  await expect(page.getByTestId('run')).toHaveAttribute('data-run-status', 'completed', { timeout: 30_000 });
  await expect(page.getByTestId('run-approval')).toContainText('by ann (run request ');
});
