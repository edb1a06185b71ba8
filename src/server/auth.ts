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

  /**
   * Returns the matching key's digest prefix (a stable, non-secret owner id), or undefined.
   * `allowBareKey` also accepts `Authorization: <key>`, as RunPod's own examples send it.
   */
  verify(authorization: string | undefined, options: { allowBareKey?: boolean } = {}): string | undefined {
    const header = authorization?.trim() ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const key = match !== null ? match[1]!.trim() : options.allowBareKey ? header : '';
    if (key === '') return undefined;
    const candidate = digest(key);
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
