import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Bearer-token check against configured keys. Keys are kept only as sha256 digests after start-up,
 * and compared in constant time.
 */
export class ApiKeyVerifier {
  readonly #digests: readonly Buffer[];

  constructor(keys: readonly string[]) {
    this.#digests = keys.map(digest);
  }

  get enabled(): boolean {
    return this.#digests.length > 0;
  }

  /** Returns the matching key's digest prefix (a stable, non-secret owner id), or undefined. */
  verify(authorization: string | undefined): string | undefined {
    const match = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '');
    if (match === null) return undefined;
    const candidate = digest(match[1]!.trim());
    let owner: string | undefined;
    for (const known of this.#digests) {
      if (timingSafeEqual(known, candidate)) owner = known.toString('hex').slice(0, 16);
    }
    return owner;
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}
