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

  static async start(): Promise<PgCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-e2e-pg-'));
    const asRoot = process.getuid?.() === 0;
    const ids = asRoot
      ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) }
      : {};
    if (asRoot) chownSync(dir, ids.uid!, ids.gid!);
    const data = join(dir, 'data');
    execFileSync(`${BIN}/initdb`, ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'], { ...ids, stdio: 'ignore' });
    const port = await freePort();
    const server = spawn(`${BIN}/postgres`, ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'], {
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
    return execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-U', 'postgres', '-p', String(this.port), '-d', database, '-c', sql])
      .toString()
      .trim();
  }

  stop() {
    this.server.kill('SIGKILL');
  }
}
