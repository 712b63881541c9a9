import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './pg';

/** The workspace's SeaweedFS (`make test` installs it into .venv), or BULWARK_WEED. */
const WEED = process.env.BULWARK_WEED || join(__dirname, '..', '..', '.venv', 'bin', 'weed');

/**
 * A throw-away SeaweedFS whose S3 gateway has no identities configured, so it accepts any
 * credentials: the browser test sets buckets up with plain HTTP requests.
 */
export class SeaweedFs {
  private constructor(readonly endpoint: string, private readonly server: ChildProcess) {}

  static async start(): Promise<SeaweedFs> {
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-e2e-s3-'));
    const ports: number[] = [];
    while (ports.length < 8) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = ports;
    const server = spawn(
      WEED,
      [
        '-logtostderr', 'server', `-dir=${dir}`, '-ip=127.0.0.1', '-ip.bind=127.0.0.1',
        `-master.port=${master}`, `-master.port.grpc=${masterGrpc}`, '-master.telemetry=false', '-master.volumeSizeLimitMB=1024',
        `-volume.port=${volume}`, `-volume.port.grpc=${volumeGrpc}`, '-volume.max=100',
        '-filer', `-filer.port=${filer}`, `-filer.port.grpc=${filerGrpc}`,
        '-s3', `-s3.port=${s3}`, `-s3.port.grpc=${s3Grpc}`, '-s3.port.iceberg=0', '-s3.port.lance=0', '-s3.autoCreateBucket=false',
      ],
      { cwd: dir, stdio: 'ignore', env: { ...process.env, WEED_MASTER_VOLUME_GROWTH_COPY_1: '1' } },
    );
    const weed = new SeaweedFs(`http://127.0.0.1:${s3}`, server);
    for (let i = 0; i < 600; i++) {
      try {
        await fetch(`${weed.endpoint}/`);
        return weed;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    weed.stop();
    throw new Error('SeaweedFS did not answer within 60 s');
  }

  async createBucket(bucket: string) {
    const reply = await fetch(`${this.endpoint}/${bucket}`, { method: 'PUT' });
    if (!reply.ok) throw new Error(`creating ${bucket}: ${reply.status} ${await reply.text()}`);
  }

  async put(bucket: string, key: string, body: string | Uint8Array, contentType: string) {
    const reply = await fetch(`${this.endpoint}/${bucket}/${key}`, { method: 'PUT', body, headers: { 'content-type': contentType } });
    if (!reply.ok) throw new Error(`putting ${key}: ${reply.status} ${await reply.text()}`);
  }

  /** The object's bytes and content type, or null when there is none. */
  async get(bucket: string, key: string): Promise<{ bytes: Buffer; contentType: string | null } | null> {
    const reply = await fetch(`${this.endpoint}/${bucket}/${key}`);
    if (reply.status === 404) return null;
    if (!reply.ok) throw new Error(`getting ${key}: ${reply.status}`);
    return { bytes: Buffer.from(await reply.arrayBuffer()), contentType: reply.headers.get('content-type') };
  }

  /** SeaweedFS shuts down slowly; nothing of it needs to survive the test. */
  stop() {
    this.server.kill('SIGKILL');
  }
}
