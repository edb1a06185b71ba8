import type { RenderedSpeech } from '../pipeline/render-speech.js';
import type { SpeechRequest, WordTiming } from '../pipeline/speech-request.js';
import type { SpeechService } from '../speech/speech-service.js';
import { normalizeText } from '../text/index.js';
import { resultCacheKey, type ResultCache } from './result-cache.js';

/**
 * The cache key of a whole-file synthesis: everything in the request that changes the bytes (the
 * normalised text, voice and its match, format, rates, speed, pitch, gaps, loudness, chunking,
 * watermark) plus the engine id and version and the pipeline revision; not how it is delivered or
 * bounded. A voice that is not built-in (a key's own, or a reference sent with the request) scopes
 * the key to its owner, so no key is answered with audio made in another key's voice.
 */
export function speechCacheKey(request: SpeechRequest, speech: SpeechService, voice: { readonly kind: string }, owner: string): string {
  const { delivery: _delivery, maxAudioSec: _maxAudioSec, textField: _textField, text, reference, prepared: _prepared, ...rest } = request;
  // A reference stands in the key by its identity (a library voice id, a digest of the upload), not its samples.
  const referenceKey = reference === undefined ? undefined : (reference.key ?? `${reference.samples.length}@${reference.sampleRate}`);
  return resultCacheKey(
    { ...rest, text: normalizeText(text).text, watermark: request.watermark !== false, ...(referenceKey === undefined ? {} : { reference: referenceKey }) },
    speech,
    voice.kind === 'builtin' ? {} : { owner },
  );
}

/**
 * How a request uses the cache, from its `Cache-Control` header as HTTP caches read it: `no-cache`
 * = do not answer from the cache but store the fresh result; `no-store` = leave the cache alone.
 */
export type CacheUse = 'use' | 'refresh' | 'bypass';

export function cacheUseFrom(cacheControl: string | undefined): CacheUse {
  const directives = (cacheControl ?? '').toLowerCase().split(',').map((part) => part.trim());
  if (directives.includes('no-store')) return 'bypass';
  if (directives.includes('no-cache')) return 'refresh';
  return 'use';
}

/**
 * `render()`'s result, or the stored one for `key`: one synthesis for concurrent identical
 * requests. Without a cache (or with it turned off, or `use` = bypass) it just renders.
 */
export async function renderCached(
  cache: ResultCache | undefined,
  key: string,
  render: () => Promise<RenderedSpeech>,
  signal: AbortSignal,
  use: CacheUse = 'use',
): Promise<{ rendered: RenderedSpeech; hit: boolean }> {
  if (cache === undefined || use === 'bypass') return { rendered: await render(), hit: false };
  const compute = async () => {
    const rendered = await render();
    const { audio, ...meta } = rendered;
    return { audio, meta };
  };
  const { result, hit } = use === 'refresh' ? { result: await cache.refresh(key, compute), hit: false } : await cache.getOrCompute(key, compute, signal);
  const meta = result.meta as Omit<RenderedSpeech, 'audio'>;
  return {
    rendered: {
      audio: result.audio,
      mimeType: meta.mimeType,
      sampleRate: meta.sampleRate,
      durationSec: meta.durationSec,
      chunkCount: meta.chunkCount,
      words: meta.words as readonly WordTiming[],
      warnings: meta.warnings,
    },
    hit,
  };
}
