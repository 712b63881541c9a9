import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, type Page, test } from '@playwright/test';
import { PORT } from '../playwright.config';

export const ADMIN = { username: 'admin', password: 'admin-password-123' };
export const VIEWER = { username: 'vera', password: 'viewer-password-123' };

/** Where the server of the running spec is recorded, so a worker that died cannot leave it holding the port. */
export const PID_FILE = join(tmpdir(), `bulwark-e2e-${PORT}.pid`);

/** The spec's own server: its data, its restore root, and the setup link it printed (when it started without users). */
const own = { dataDir: '', restoreRoot: '', setupUrl: '' };

/**
 * Gives the spec file that calls it (at its top) a `bulwark serve` of its own on a fresh SQLite
 * catalog, data directory and restore root, started before its first test and killed after its
 * last, so no spec depends on what another did or left behind. With `admin` (the default) the
 * administrator ADMIN exists already (added with the CLI, as an operator would); without, the
 * spec starts from the one-time setup link, as a new installation does.
 */
export function ownServer({ admin = true } = {}) {
  let server: ChildProcess | undefined;
  test.beforeAll(async () => {
    const bin = process.env.BULWARK_BIN;
    const siteRoot = process.env.BULWARK_SITE_ROOT;
    if (!bin || !siteRoot) throw new Error('BULWARK_BIN and BULWARK_SITE_ROOT must be set (make e2e sets them)');
    stopRecorded();
    own.dataDir = mkdtempSync(join(tmpdir(), 'bulwark-e2e-'));
    // Restores may write only below this root.
    own.restoreRoot = mkdtempSync(join(tmpdir(), 'bulwark-e2e-restores-'));
    chmodSync(own.restoreRoot, 0o755); // restored clusters run as postgres and must reach their directory
    const env: NodeJS.ProcessEnv = { ...process.env, BULWARK_DATA_DIR: own.dataDir, RUST_LOG: 'warn' };
    delete env.DATABASE_URL; // the end-to-end tests run on the embedded SQLite default
    if (admin) {
      const added = spawnSync(bin, ['user', 'add', ADMIN.username, '--admin', '--password-stdin'], { env, input: `${ADMIN.password}\n`, encoding: 'utf8' });
      if (added.status !== 0) throw new Error(`bulwark user add failed: ${added.stderr}`);
    }
    server = spawn(bin, ['serve'], {
      env: {
        ...env,
        BULWARK_SITE_ROOT: siteRoot,
        BULWARK_LISTEN: `127.0.0.1:${PORT}`,
        BULWARK_RESTORE_ROOTS: own.restoreRoot,
        BULWARK_SECURE_COOKIES: 'false', // plain HTTP on 127.0.0.1, as `make run`
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    writeFileSync(PID_FILE, String(server.pid));
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not listen within 20 s; output:\n${output}`)), 20_000);
      server?.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        own.setupUrl = output.match(/(http:\/\/\S+\/setup\?token=\S+)/)?.[1] ?? '';
        if (output.includes('Bulwark is listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      server?.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
      server?.on('exit', (code) => reject(new Error(`the server exited with ${code}; output:\n${output}`)));
    });
  });
  test.afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server?.on('exit', resolve));
      server.kill('SIGKILL'); // its data goes with it: nothing to drain
      await exited;
    }
    rmSync(PID_FILE, { force: true });
    // The restore root stays: a spec's own `afterAll` may still stop a cluster restored there.
    rmSync(own.dataDir, { recursive: true, force: true });
  });
}

/** Kills the server a worker that died left running. */
export function stopRecorded() {
  if (!existsSync(PID_FILE)) return;
  try {
    process.kill(Number(readFileSync(PID_FILE, 'utf8')), 'SIGKILL');
  } catch {
    // already gone
  }
  rmSync(PID_FILE, { force: true });
}

/** The one-time setup link the spec's own server printed at its start (`ownServer({ admin: false })`). */
export function setupUrl(): string {
  if (!own.setupUrl) throw new Error('this spec\'s server printed no setup link: call ownServer({ admin: false })');
  return own.setupUrl;
}

/** A new directory below the server's restore root (the only place restores may write). */
export function restoreDir(label: string): string {
  const root = own.restoreRoot;
  if (!root) throw new Error('no restore root: call ownServer() at the top of the spec');
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

/** An authenticator app's code for Bulwark's base32 key (RFC 6238: HMAC-SHA1, 30 s, 6 digits). */
export function appCode(base32: string, unixSeconds: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const at = mac[19] & 15;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}
