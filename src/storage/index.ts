import type { ChorusConfig } from '../config/config.js';
import type { BlobStore } from './blob-store.js';
import { LocalBlobStore } from './local-blob-store.js';
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Settings } from './s3-blob-store.js';

export type { BlobStore, StoredBlob } from './blob-store.js';
export { LocalBlobStore } from './local-blob-store.js';

/** The S3 settings from the config, or undefined when no S3 access is configured. */
export function s3SettingsFrom(config: ChorusConfig): Omit<S3Settings, 'bucket'> & { bucket?: string } | undefined {
  const configured = config.storage === 's3' || config.s3AccessKeyId !== undefined || config.s3Endpoint !== undefined;
  if (!configured) return undefined;
  return {
    region: config.s3Region,
    ...(config.s3Bucket === undefined ? {} : { bucket: config.s3Bucket }),
    ...(config.s3Endpoint === undefined ? {} : { endpoint: config.s3Endpoint }),
    ...(config.s3AccessKeyId === undefined ? {} : { accessKeyId: config.s3AccessKeyId }),
    ...(config.s3SecretAccessKey === undefined ? {} : { secretAccessKey: config.s3SecretAccessKey }),
  };
}

/** The store CHORUS_STORAGE selects. `publicUrl` is read when a local link is made (the port may be known late). */
export async function createBlobStore(config: ChorusConfig, publicUrl: () => string): Promise<BlobStore> {
  if (config.storage === 's3') {
    const settings = s3SettingsFrom(config)!;
    if (settings.bucket === undefined) throw new Error('CHORUS_STORAGE=s3 needs CHORUS_S3_BUCKET.');
    // Loaded only when configured: the S3 SDK is a sixth of the server's start-up.
    const { S3BlobStore } = await import('./s3-blob-store.js');
    return new S3BlobStore({ ...settings, bucket: settings.bucket });
  }
  return LocalBlobStore.open({
    dataDir: config.dataDir,
    publicUrl,
    ...(config.urlSigningSecret === undefined ? {} : { secret: config.urlSigningSecret }),
  });
}

/** An S3 client for reading `s3://` URLs with the configured credentials, made on first use; undefined without S3 settings. */
export function lazyS3Client(config: ChorusConfig): () => Promise<S3Client | undefined> {
  let client: Promise<S3Client> | undefined;
  return async () => {
    const settings = s3SettingsFrom(config);
    if (settings === undefined) return undefined;
    client ??= import('./s3-blob-store.js').then(({ createS3Client }) => createS3Client(settings));
    return await client;
  };
}
