import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = '/usr/lib/postgresql/15/bin';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A throw-away PostgreSQL 15 cluster (trust auth on 127.0.0.1), run as the `postgres` user when we are root. */
export class PgCluster {
  private constructor(readonly port: number, private readonly server: ChildProcess) {}

  /** `settings` are extra `name=value` server settings (`-c`). */
  static async start(settings: string[] = []): Promise<PgCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-e2e-pg-'));
    const asRoot = process.getuid?.() === 0;
    const ids = asRoot
      ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) }
      : {};
    if (asRoot) chownSync(dir, ids.uid!, ids.gid!);
    const data = join(dir, 'data');
    execFileSync(`${BIN}/initdb`, ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'], { ...ids, stdio: 'ignore' });
    const port = await freePort();
    const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', ...settings.flatMap((s) => ['-c', s])];
    const server = spawn(`${BIN}/postgres`, args, {
      ...ids,
      stdio: 'ignore',
    });
    const cluster = new PgCluster(port, server);
    for (let i = 0; i < 300; i++) {
      try {
        execFileSync(`${BIN}/pg_isready`, ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-q']);
        return cluster;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    cluster.stop();
    throw new Error('PostgreSQL did not start within 30 s');
  }

  url(database: string): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Runs SQL and returns psql's unaligned output. */
  psql(database: string, sql: string): string {
    return psqlAt(this.port, database, sql);
  }

  stop() {
    this.server.kill('SIGKILL');
  }
}

/** Runs SQL on the cluster at `port` and returns psql's unaligned output: over 127.0.0.1, or over
 *  the socket in `socketDir` (a restored cluster trusts only its private socket). */
export function psqlAt(port: number, database: string, sql: string, socketDir?: string): string {
  const host = socketDir ?? '127.0.0.1';
  return execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', host, '-U', 'postgres', '-p', String(port), '-d', database, '-c', sql])
    .toString()
    .trim();
}

/** The `postgres` user's ids when we are root (PostgreSQL refuses to run as root). */
export function serverUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
}

/** Stops a cluster something else started in `data` (a restore under test). */
export function stopDataDirectory(data: string) {
  execFileSync(`${BIN}/pg_ctl`, ['-D', data, '-m', 'immediate', '-w', 'stop'], { ...serverUser(), stdio: 'ignore' });
}

export { freePort };
