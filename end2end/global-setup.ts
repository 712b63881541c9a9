import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PORT } from './playwright.config';

export const STATE_FILE = join(__dirname, '.e2e-state.json');

/** Starts `bulwark serve` on a fresh SQLite catalog and records its one-time setup link. */
export default async function globalSetup() {
  const bin = process.env.BULWARK_BIN;
  const siteRoot = process.env.BULWARK_SITE_ROOT;
  if (!bin || !siteRoot) throw new Error('BULWARK_BIN and BULWARK_SITE_ROOT must be set (make e2e sets them)');
  const dataDir = mkdtempSync(join(tmpdir(), 'bulwark-e2e-'));
  // Restores may write only below this root; the tests' workers inherit the variable.
  const restoreRoot = mkdtempSync(join(tmpdir(), 'bulwark-e2e-restores-'));
  chmodSync(restoreRoot, 0o755); // restored clusters run as postgres and must reach their directory
  process.env.BULWARK_E2E_RESTORE_ROOT = restoreRoot;
  const env = { ...process.env };
  delete env.DATABASE_URL; // the end-to-end tests run on the embedded SQLite default
  const server = spawn(bin, ['serve'], {
    env: {
      ...env,
      BULWARK_DATA_DIR: dataDir,
      BULWARK_SITE_ROOT: siteRoot,
      BULWARK_LISTEN: `127.0.0.1:${PORT}`,
      BULWARK_RESTORE_ROOTS: restoreRoot,
      BULWARK_SECURE_COOKIES: 'false', // plain HTTP on 127.0.0.1, as `make run`
      RUST_LOG: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
  });
  let output = '';
  const setupUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no setup link within 60 s; output:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const link = output.match(/(http:\/\/\S+\/setup\?token=\S+)/);
      if (link && output.includes('Bulwark is listening')) {
        clearTimeout(timer);
        resolve(link[1]);
      }
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    server.on('exit', (code) => reject(new Error(`server exited with ${code}; output:\n${output}`)));
  });
  server.stdout.removeAllListeners('data');
  server.stdout.resume();
  writeFileSync(STATE_FILE, JSON.stringify({ pid: server.pid, dataDir, setupUrl }));
}
