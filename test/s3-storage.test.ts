import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { S3BlobStore } from '../src/storage/s3-blob-store.js';
import { probeAudio } from './support/ffprobe.js';
import { startTestS3, type TestS3 } from './support/s3.js';
import { startTestServer } from './support/server.js';

describe('S3 storage against a real S3-protocol server (s3rver on loopback)', () => {
  let s3: TestS3;
  let store: S3BlobStore;

  before(async () => {
    s3 = await startTestS3(['chorus-out']);
    store = new S3BlobStore({ bucket: 'chorus-out', endpoint: s3.endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
  });
  after(async () => {
    store.close();
    await s3.close();
  });

  it('put, get and delete keep bytes and content type', async () => {
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
    await store.put('dir/blob_1.bin', bytes, 'audio/wav');
    const blob = await store.get('dir/blob_1.bin');
    assert.ok(blob);
    assert.equal(blob.contentType, 'audio/wav');
    assert.deepEqual(Buffer.from(blob.bytes), Buffer.from(bytes));
    await store.delete('dir/blob_1.bin');
    assert.equal(await store.get('dir/blob_1.bin'), undefined);
  });

  it('a presigned URL downloads the same bytes with plain fetch', async () => {
    const bytes = new Uint8Array(50_000).map((_, i) => (i * 13) & 0xff);
    await store.put('presigned_1.wav', bytes, 'audio/wav');
    const url = await store.signedUrl('presigned_1.wav', 60);
    assert.ok(url.startsWith(`${s3.endpoint}/chorus-out/presigned_1.wav?`), url);
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'audio/wav');
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), Buffer.from(bytes));
  });

  it('a URL with a 1 s lifetime fails after 2 s', async () => {
    await store.put('short_1.wav', new Uint8Array([1, 2, 3]), 'audio/wav');
    const url = await store.signedUrl('short_1.wav', 1);
    assert.equal((await fetch(url)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const expired = await fetch(url);
    assert.equal(expired.status, 403);
    await expired.arrayBuffer();
  });

  it('a Chorus server with CHORUS_STORAGE=s3 returns an audio_url that downloads', async () => {
    const server = await startTestServer(s3.env('chorus-out'));
    try {
      const response = await fetch(`${server.url}/v2/spark-tts/runsync`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: { text: 'Stored in a bucket.', output_name: 's3 test' } }),
      });
      const job = (await response.json()) as { status: string; output: { audio_url: string; duration: number; sample_rate: number } };
      assert.equal(job.status, 'COMPLETED', JSON.stringify(job));
      assert.match(job.output.audio_url, new RegExp(`^${s3.endpoint}/chorus-out/s3_test_[0-9a-f-]{36}\\.wav\\?.*X-Amz-Signature=`));
      const audio = await fetch(job.output.audio_url);
      assert.equal(audio.status, 200);
      const probe = probeAudio(new Uint8Array(await audio.arrayBuffer()), 'wav');
      assert.equal(probe.sampleRate, 24_000);
      assert.ok(Math.abs(probe.decodedDuration - job.output.duration) < 0.01);
      // With S3 storage Chorus serves no /files route.
      assert.equal((await fetch(`${server.url}/files/x.wav?expires=1&sig=00`)).status, 404);
    } finally {
      await server.close();
    }
  });
});
