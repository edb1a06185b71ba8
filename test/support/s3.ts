import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export interface TestS3 {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  /** The CHORUS_S3_* variables that point Chorus at this server (storage bucket `bucket`). */
  env(bucket: string): Record<string, string>;
  close(): Promise<void>;
}

/** A real S3-protocol server (s3rver) on 127.0.0.1, a random port and a temp directory. Credentials S3RVER/S3RVER. */
export async function startTestS3(buckets: readonly string[]): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), 'chorus-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    env: (bucket) => ({
      CHORUS_STORAGE: 's3',
      CHORUS_S3_BUCKET: bucket,
      CHORUS_S3_ENDPOINT: endpoint,
      CHORUS_S3_REGION: 'us-east-1',
      CHORUS_S3_ACCESS_KEY_ID: 'S3RVER',
      CHORUS_S3_SECRET_ACCESS_KEY: 'S3RVER',
    }),
    async close() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
