/** A stored file as read back. */
export interface StoredBlob {
  readonly bytes: Uint8Array;
  readonly contentType: string;
}

/**
 * Where operations keep their outputs (audio files, subtitles) and how clients get them back: by a
 * link that stops working after `expiresInSec`. Keys are relative paths of `[A-Za-z0-9._-]` segments.
 */
export interface BlobStore {
  readonly kind: 'local' | 's3';
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
  /** The blob, or undefined when there is none under the key. */
  get(key: string): Promise<StoredBlob | undefined>;
  /** Removes the blob; a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** A URL anyone holding it can GET until it expires. */
  signedUrl(key: string, expiresInSec: number): Promise<string>;
}

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** True for keys made of `/`-separated segments that cannot climb out of a directory. */
export function isValidKey(key: string): boolean {
  return key.length > 0 && key.length <= 512 && key.split('/').every((segment) => SEGMENT.test(segment));
}

export function assertValidKey(key: string): void {
  if (!isValidKey(key)) throw new Error(`Invalid storage key '${key}': use '/'-separated segments of letters, digits, '.', '_' and '-'.`);
}
