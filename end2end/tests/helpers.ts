import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, type Page } from '@playwright/test';

export const ADMIN = { username: 'admin', password: 'admin-password-123' };
export const VIEWER = { username: 'vera', password: 'viewer-password-123' };

/** The one-time setup link the server printed at first start. */
export function setupUrl(): string {
  return JSON.parse(readFileSync(join(__dirname, '..', '.e2e-state.json'), 'utf8')).setupUrl;
}

/** A new directory below the server's restore root (the only place restores may write). */
export function restoreDir(label: string): string {
  const root = process.env.BULWARK_E2E_RESTORE_ROOT;
  if (!root) throw new Error('BULWARK_E2E_RESTORE_ROOT is not set (global-setup sets it)');
  const dir = mkdtempSync(join(root, `${label}-`));
  chmodSync(dir, 0o755);
  return dir;
}

/** Waits until the wasm has hydrated the page, so clicks reach Leptos handlers. */
export async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
}

export async function login(page: Page, user: { username: string; password: string }) {
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  await hydrated(page);
}
