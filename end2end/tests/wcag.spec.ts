import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { expect, type Page, test } from '@playwright/test';
import { ADMIN, hydrated, login, ownServer, restoreDir } from './helpers';

ownServer();

// Runs after console.spec.ts (files run in name order, one worker), so the admin exists.

/** Every route of the console's router (app/src/lib.rs), parameters as written (`:id`). */
function routes(): string[] {
  const source = readFileSync(join(__dirname, '..', '..', 'app', 'src', 'lib.rs'), 'utf8');
  const found = [...source.matchAll(/<(?:Parent)?Route path=path!\("([^"]*)"\)/g)].map((m) => m[1]);
  // Children of the console's parent route ("") sit at the top as well.
  return [...new Set(found.map((p) => `/${p}`.replace(/^\/+/, '/')))];
}

/** The accessible name of the focused element: its aria-label, its label's text, or its text. */
async function focusedName(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLInputElement | null;
    if (!el || el === document.body) return '';
    const aria = el.getAttribute('aria-label');
    if (aria) return aria;
    if (el.labels && el.labels.length) return el.labels[0].textContent ?? '';
    return el.textContent ?? '';
  });
}

/** Presses Tab until the element whose name starts with `name` has the focus. */
async function tabTo(page: Page, name: string) {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    if ((await focusedName(page)).trim().startsWith(name)) return;
  }
  throw new Error(`nothing named "${name}" can be reached with the Tab key`);
}

async function axe(page: Page, route: string) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const found = result.violations.map((v) => `${route}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(found, `WCAG 2.1 AA violations on ${route}`).toEqual([]);
}

test('keyboard alone logs in, adds a location and a configuration, and runs it; every route passes axe (WCAG 2.1 AA)', async ({ page }) => {
  test.setTimeout(180_000);
  // The keyboard walk: no click from here to the running backup.
  await page.goto('/login');
  await hydrated(page);
  await tabTo(page, 'Username');
  await page.keyboard.type(ADMIN.username);
  await tabTo(page, 'Password');
  await page.keyboard.type(ADMIN.password);
  await tabTo(page, 'Log in');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  await hydrated(page);

  await page.goto('/storage');
  await hydrated(page);
  const repo = join(mkdtempSync(join(tmpdir(), 'bulwark-e2e-wcag-')), 'repo');
  await tabTo(page, 'Name');
  await page.keyboard.type('Keyboard disk');
  await tabTo(page, 'Path');
  await page.keyboard.type(repo);
  await tabTo(page, 'Add location');
  await page.keyboard.press('Enter');
  const location = page.locator('tr[data-location="Keyboard disk"]');
  await expect(location).toContainText('not initialised');
  await location.getByRole('button', { name: 'Initialise repository' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('recovery-kit')).toBeVisible();

  const src = mkdtempSync(join(tmpdir(), 'bulwark-e2e-wcag-src-'));
  writeFileSync(join(src, 'typed.txt'), 'backed up without a mouse\n');
  await page.goto('/configurations');
  await hydrated(page);
  await tabTo(page, 'Name');
  await page.keyboard.type('Keyboard files');
  await tabTo(page, 'Source identifier');
  await page.keyboard.type(src);
  await tabTo(page, 'Storage location');
  await page.keyboard.type('Keyboard disk');
  await expect(page.getByLabel('Storage location')).toHaveValue(/.+/);
  await tabTo(page, 'Add configuration');
  await page.keyboard.press('Enter');
  const row = page.locator('tr[data-configuration="Keyboard files"]');
  await expect(row).toContainText('never run');
  await row.getByRole('button', { name: 'Run now' }).focus();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/executions\/[0-9a-f-]{36}$/);
  await hydrated(page);
  await expect(page.getByTestId('status')).toHaveText('completed', { timeout: 60_000 });
  const execution = new URL(page.url()).pathname;

  // Where the routes with parameters lead: the objects just made.
  await page.goto('/configurations');
  await hydrated(page);
  const configuration = await row.getByRole('link', { name: 'Keyboard files' }).getAttribute('href');
  await page.goto('/storage');
  await hydrated(page);
  const storage = await location.locator('a[href^="/storage/"]').first().getAttribute('href');
  await page.goto(storage!);
  await hydrated(page);
  const snapshot = await page.locator(`a[href^="${storage}/"]`).first().getAttribute('href');
  // A production restoration waiting for approval (over REST, with the session): its page and
  // the Approvals inbox have something to show.
  const target = { name: 'Keyboard target', environment: 'production', targetType: 'directory', path: join(restoreDir('wcag'), 'prod') };
  expect((await page.request.post('/api/admin/backups/restore-targets', { data: target })).status()).toBe(201);
  const request = { backupExecutionId: execution.split('/').pop(), restorationType: 'full', targetEnvironment: 'production', targetIdentifier: 'Keyboard target' };
  const asked = await page.request.post('/api/admin/backups/restoration', { data: request });
  expect(asked.status(), await asked.text()).toBe(201);
  // An alert: a configuration whose source went away fails its backup (over REST). And a
  // notification channel, so the Notifications page shows its table.
  const vanishing = mkdtempSync(join(tmpdir(), 'bulwark-e2e-wcag-vanishing-'));
  const created = await page.request.post('/api/admin/backups/configurations', {
    data: { name: 'Vanishing', sourceType: 'filesystem', sourceIdentifier: vanishing, storageLocationIds: [storage!.split('/').pop()] },
  });
  expect(created.status(), await created.text()).toBe(201);
  rmSync(vanishing, { recursive: true });
  expect((await page.request.post(`/api/admin/backups/configurations/${(await created.json()).id}/execute`)).ok()).toBe(true);
  let alert = '';
  await expect.poll(async () => {
    alert = (await (await page.request.get('/api/admin/backups/alerts')).json()).alerts[0]?.id ?? '';
    return alert;
  }, { timeout: 30_000 }).not.toBe('');
  const channel = { name: 'Keyboard hook', kind: 'webhook', settings: { url: 'http://127.0.0.1:9/hook' }, routing: { approvalRequests: true } };
  expect((await page.request.post('/api/admin/notifications/channels', { data: channel })).status()).toBe(201);
  // A plan nobody approved yet, and a drill of it waiting at its approver's gate.
  const planDocument = 'name: Keyboard plan\ndisasterScenario: hardware_failure\ndisasterType: storage_failure\nseverity: 3\nestimatedRtoMinutes: 30\nestimatedRpoMinutes: 15\nsteps:\n  - name: Answers\n    type: validation\n    config: { tcp: "127.0.0.1:9" }\n';
  const plan = await page.request.post('/api/disaster-recovery/plans', { data: { document: planDocument } });
  expect(plan.status(), await plan.text()).toBe(201);
  const planId = (await plan.json()).summary.id;
  const drill = await page.request.post('/api/disaster-recovery/execute', { data: { planId, executionMode: 'test' } });
  expect(drill.status(), await drill.text()).toBe(202);
  const examples: Record<string, string> = {
    '/disaster-recovery/plans/:id': `/disaster-recovery/plans/${planId}`,
    '/disaster-recovery/runs/:id': `/disaster-recovery/runs/${(await drill.json()).executionId}`,
    '/alerts/:id': `/alerts/${alert}`,
    '/restoration/:id': `/restoration/${(await asked.json()).restorationId}`,
    '/configurations/:id': configuration!,
    '/executions/:id': execution,
    '/storage/:id': storage!,
    '/storage/:id/:snapshot': snapshot!,
  };

  // Every route, so a new page cannot skip the check: one with a parameter needs an example above.
  const all = routes();
  expect(all.length).toBeGreaterThan(15);
  for (const route of all) {
    const url = route.includes(':') ? examples[route] : route;
    expect(url, `no example URL for the route ${route}: add one to this test`).toBeTruthy();
    if (route === '/login' || route === '/setup') continue;
    await page.goto(url);
    await hydrated(page);
    await axe(page, route);
  }
  // The pages a visitor sees before logging in.
  await page.context().clearCookies();
  for (const route of ['/login', '/setup']) {
    await page.goto(route);
    await hydrated(page);
    await axe(page, route);
  }
});
