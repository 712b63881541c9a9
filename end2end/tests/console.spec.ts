import { expect, test } from '@playwright/test';
import { ADMIN, VIEWER, appCode, hydrated, login, ownServer, setupUrl } from './helpers';

ownServer({ admin: false }); // this story starts from the setup link

// One story, in order: the first admin sets up the console, uses it, adds a viewer,
// and the viewer finds the admin areas closed.
test.describe.configure({ mode: 'serial' });

const NAV = [
  { label: 'Dashboard', heading: 'Dashboard', text: 'Figures as of' },
  { label: 'Configurations', heading: 'Configurations', text: 'Nothing is protected yet' },
  { label: 'Restoration', heading: 'Restoration', text: 'No restores yet' },
  { label: 'Disaster Recovery', heading: 'Disaster Recovery', text: 'No recovery plans yet' },
  { label: 'Cost Analysis', heading: 'Cost Analysis', text: 'No cost data yet' },
  { label: 'Testing Results', heading: 'Testing Results', text: 'No backups have been tested yet' },
  { label: 'Storage Locations', heading: 'Storage Locations', text: 'No storage locations yet' },
  { label: 'Alerts', heading: 'Alerts', text: 'No alerts here' },
  { label: 'Monitoring', heading: 'Monitoring', text: 'No services are monitored yet' },
  { label: 'Approvals', heading: 'Approvals', text: 'Nothing is waiting for approval' },
  { label: 'Notifications', heading: 'Notifications', text: 'No channels yet' },
  { label: 'Audit', heading: 'Audit', text: 'user.create' },
  { label: 'Users', heading: 'Users', text: 'Add a user' },
];

let viewerToken = '';
let adminToken = '';

test('a page needs a login; the first admin comes from the one-time setup link', async ({ page }) => {
  await page.goto('/configurations');
  await expect(page).toHaveURL(/\/login\?next=\/configurations$/);

  await page.goto(setupUrl());
  await hydrated(page);
  await expect(page.getByText('Create the first administrator account.')).toBeVisible();
  await page.getByLabel('Username').fill(ADMIN.username);
  await page.getByLabel('Password (12 characters or more)').fill(ADMIN.password);
  await page.getByLabel('Repeat the password').fill('something else entirely');
  await page.getByRole('button', { name: 'Save and log in' }).click();
  await expect(page.getByRole('alert')).toHaveText('the two passwords differ');

  await page.getByLabel('Repeat the password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Save and log in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  await expect(page.locator('.usermenu')).toContainText(ADMIN.username);
  await expect(page.locator('.usermenu')).toContainText('admin');
});

test('the setup link works once only', async ({ page }) => {
  await page.goto(setupUrl());
  await expect(page.getByRole('alert')).toContainText('this setup link is invalid, used or expired');
});

test('wrong password and unknown user get a clear message; logout ends the session', async ({ page }) => {
  await page.goto('/login');
  await hydrated(page);
  for (const [username, password] of [[ADMIN.username, 'not the password'], ['nobody', 'whatever-it-is']]) {
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    const answer = page.waitForResponse('**/_sfn/login');
    await page.getByRole('button', { name: 'Log in' }).click();
    expect((await answer).status()).toBe(400);
    await expect(page.getByRole('alert')).toHaveText('wrong username or password');
  }

  await login(page, ADMIN);
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/users');
  await expect(page).toHaveURL(/\/login\?next=\/users$/);
});

test('every page of the navigation renders, hydrated, with its empty state', async ({ page }) => {
  await login(page, ADMIN);
  for (const item of NAV) {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: item.label, exact: true }).click();
    await expect(page.getByRole('heading', { level: 1, name: item.heading })).toBeVisible();
    await expect(page.getByRole('navigation', { name: 'Breadcrumb' })).toContainText(item.label === 'Dashboard' ? 'Bulwark' : item.label);
    await expect(page.getByText(item.text).first()).toBeVisible();
    // A full page load of the same address renders on the server and hydrates too.
    await page.reload();
    await hydrated(page);
    await expect(page.getByRole('heading', { level: 1, name: item.heading })).toBeVisible();
  }
});

test('a button calling a server function changes the page', async ({ page }) => {
  await login(page, ADMIN);
  const asOf = page.getByTestId('as-of');
  const before = await asOf.textContent();
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect(asOf).not.toHaveText(before ?? '');

  await page.goto('/audit');
  await hydrated(page);
  await page.getByRole('button', { name: 'Verify chain' }).click();
  await expect(page.getByRole('status')).toContainText('The chain is intact');
});

test('an admin adds a viewer and creates an API token', async ({ page, request }) => {
  await login(page, ADMIN);
  await page.goto('/users');
  await hydrated(page);
  await page.getByLabel('Username').fill('bad name');
  await page.getByLabel('Initial password').fill(VIEWER.password);
  await page.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByRole('alert')).toContainText('a username has 1 to 64 characters');

  await page.getByLabel('Username').fill(VIEWER.username);
  await page.getByLabel('Role', { exact: true }).selectOption('viewer');
  await page.getByRole('button', { name: 'Add user' }).click();
  const row = page.locator(`tr[data-username="${VIEWER.username}"]`);
  await expect(row).toBeVisible();
  await expect(row).toContainText('active');

  await page.goto('/account');
  await hydrated(page);
  await page.getByLabel('Name').fill('e2e-admin');
  await page.getByLabel('Role').selectOption('admin');
  await page.getByRole('button', { name: 'Create token' }).click();
  adminToken = (await page.getByTestId('new-token').textContent()) ?? '';
  expect(adminToken).toMatch(/^bwk_/);
  await expect(page.locator('table.data')).toContainText('e2e-admin');

  const me = await request.get('/api/me', { headers: { Authorization: `Bearer ${adminToken}` } });
  expect(me.status()).toBe(200);
  expect(await me.json()).toMatchObject({ username: ADMIN.username, role: 'admin' });
});

test('a viewer cannot reach the admin pages or the admin API', async ({ page, request }) => {
  await login(page, VIEWER);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Dashboard' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Users' })).toHaveCount(0);
  await expect(nav.getByRole('link', { name: 'Audit' })).toHaveCount(0);
  await expect(nav.getByRole('link', { name: 'Notifications' })).toHaveCount(0);

  for (const path of ['/users', '/audit', '/notifications']) {
    await page.goto(path);
    await hydrated(page);
    await expect(page.getByRole('alert')).toContainText('this needs the admin role; you have viewer');
    await expect(page.locator('table.data')).toHaveCount(0);
  }

  await page.goto('/account');
  await hydrated(page);
  await page.getByLabel('Name').fill('e2e-viewer');
  await page.getByRole('button', { name: 'Create token' }).click();
  viewerToken = (await page.getByTestId('new-token').textContent()) ?? '';
  expect(viewerToken).toMatch(/^bwk_/);

  const denied = await request.get('/api/admin/users', { headers: { Authorization: `Bearer ${viewerToken}` } });
  expect(denied.status()).toBe(403);
  expect(await denied.json()).toEqual({ error: 'forbidden', detail: 'this needs the admin role; you have viewer' });
  const missing = await request.get('/api/admin/users');
  expect(missing.status()).toBe(401);
  expect((await missing.json()).error).toBe('unauthenticated');
  const allowed = await request.get('/api/admin/users', { headers: { Authorization: `Bearer ${adminToken}` } });
  expect(allowed.status()).toBe(200);
  expect((await allowed.json()).map((u: { username: string }) => u.username)).toEqual([ADMIN.username, VIEWER.username]);
});

test('an ended session sends the browser back to the login page', async ({ page, context }) => {
  await login(page, VIEWER);
  await context.clearCookies();
  await page.goto('/alerts');
  await expect(page).toHaveURL(/\/login\?next=\/alerts$/);
});

test('a user turns on a second factor, logs in with a code, and an admin removes it', async ({ page, request }) => {
  const tess = { username: 'tess', password: 'tess-password-1234' };
  const created = await request.post('/api/admin/users', {
    headers: { Authorization: `Bearer ${adminToken}` },
    data: { username: tess.username, password: tess.password, role: 'operator' },
  });
  expect(created.status()).toBe(201);

  await login(page, tess);
  await page.goto('/account');
  await hydrated(page);
  await page.getByRole('button', { name: 'Set up' }).click();
  await expect(page.locator('.qr svg')).toBeVisible();
  const key = (await page.getByTestId('totp-secret').textContent()) ?? '';
  expect(key).toMatch(/^[A-Z2-7]{32}$/);
  const now = Math.floor(Date.now() / 1000);
  await page.getByLabel('Code', { exact: true }).fill('123');
  await page.getByRole('button', { name: 'Turn on' }).click();
  await expect(page.getByRole('alert')).toContainText("not the app's current code");
  await page.getByLabel('Code', { exact: true }).fill(appCode(key, now));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await expect(page.getByRole('status')).toContainText('On: logging in asks for a code');
  await page.getByRole('button', { name: 'Log out' }).click();

  // The password alone now leads to the code field; the confirming code cannot be used again.
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Username').fill(tess.username);
  await page.getByLabel('Password').fill(tess.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByLabel('Authentication code')).toBeVisible();
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel('Authentication code').fill(appCode(key, now));
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('alert')).toHaveText('wrong or already used authentication code');
  await page.getByLabel('Authentication code').fill(appCode(key, now + 30));
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  await page.getByRole('button', { name: 'Log out' }).click();

  // Lost phone: an admin removes the second factor from the Users page.
  await login(page, ADMIN);
  await page.goto('/users');
  await hydrated(page);
  const row = page.locator(`tr[data-username="${tess.username}"]`);
  await row.getByRole('button', { name: 'Remove' }).click();
  await expect(row).toContainText('off');
  await page.getByRole('button', { name: 'Log out' }).click();
  await login(page, tess);
});

test('the API is described at /api/openapi.json and readable in Swagger UI served by Bulwark itself', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
  const requested: string[] = [];
  page.on('request', (request) => requested.push(request.url()));
  await page.goto('/api/docs/');
  // The document's own title and an operation of the REST API, rendered under the page's CSP.
  await expect(page.getByRole('heading', { name: /Bulwark/ })).toBeVisible();
  await expect(page.getByText('/api/admin/backups/configurations').first()).toBeVisible();
  expect(errors.filter((e) => e.includes('Content Security Policy')), errors.join('\n')).toEqual([]);
  // Nothing from a CDN: every script, style and image comes from this server.
  const origin = new URL(page.url()).origin;
  expect(requested.filter((u) => !u.startsWith(origin) && !u.startsWith('data:'))).toEqual([]);
});
