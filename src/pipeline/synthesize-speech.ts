import type { AudioEncoder } from '../audio/encoders/audio-encoder.js';
import { createEncoder, getFormatInfo } from '../audio/encoders/index.js';
import {
  createLoudnessNormalizer,
  createResampler,
  createTempoPitchTransform,
  initDsp,
  normalizePeak,
  resampleBuffer,
  normalizeRms,
  silence,
} from '../audio/dsp/index.js';
import { concatFloat32, type PcmTransform } from '../audio/pcm.js';
import { transformVoice } from '../audio/dsp/voice-transform.js';
import { createWatermarker } from '../audio/watermark/watermark.js';
import { findLanguage } from '../engine/engine-languages.js';
import { checkEngineOptions } from './engine-options.js';
import type { EngineWarning, SpeechEngine } from '../engine/speech-engine.js';
import { ChorusError } from '../errors.js';
import { chunkText, detectScriptLanguage, hasSpeakableText, normalizeText, splitSentences, type Span } from '../text/index.js';
import type { SpeechPart, SpeechRequest } from './speech-request.js';
import { WordTimeline, type EngineWordEvent } from './word-timeline.js';

/** Times the words of `text` (offsets into it) in `samples`, ms from their start. */
export type ChunkAligner = (
  samples: Float32Array,
  sampleRate: number,
  text: string,
  language: string | undefined,
  signal: AbortSignal,
) => Promise<readonly { readonly charStart: number; readonly charEnd: number; readonly startMs: number; readonly endMs: number }[]>;

export interface PipelineContext {
  /** The engine of `request.engine`. */
  readonly engine: SpeechEngine;
  /**
   * Word timings for a chunk of an engine that reports none (the forced aligner, its reference
   * spoken by eSpeak); absent: such a chunk's words share its time by length.
   */
  readonly align?: ChunkAligner;
  /** ffmpeg binary for formats no in-process encoder covers (aac). */
  readonly ffmpegPath: string;
}

/**
 * The first chunk is kept short so a stream's first audio leaves quickly. Whole files are cut the same
 * way: engines keep a join close to unheard (`continues`), but a cut inside a sentence still changes
 * its intonation, so the plan must not depend on delivery for a stream to sound exactly like the file.
 */
const FIRST_CHUNK_CHARS = 120;
const PEAK_TARGET_DBFS = -1;
const RMS_TARGET_DBFS = -20;
/** eSpeak speaks at about -21 dBFS RMS; the streaming normaliser starts from there. */
const TYPICAL_ENGINE_LEVEL_DBFS = -21;
const EDGE_SILENCE_THRESHOLD = 0.004;

/**
 * Text in, encoded audio out, as a stream of parts: the single place where chunking, engine calls,
 * time-stretch, pitch shift, sentence gaps, resampling, loudness and encoding meet. It runs in an
 * engine worker thread or in-process (CLI, benchmarks); it does not know which.
 */
export async function* synthesizeSpeech(
  context: PipelineContext,
  request: SpeechRequest,
  signal: AbortSignal,
): AsyncGenerator<SpeechPart> {
  await initDsp();
  const { engine } = context;
  const capabilities = engine.capabilities;
  const textField = request.textField ?? 'input';
  const normalized = normalizeText(request.text);
  if (!hasSpeakableText(request.text)) {
    throw new ChorusError({ code: 'invalid_request', param: textField, message: `'${textField}' contains nothing that can be spoken.` });
  }
  // Requests may name a language by BCP-47 tag or engine code; the engine gets its own code. A language
  // guessed from the script is passed only to an engine that speaks it.
  const requestedLanguage = request.language ?? detectScriptLanguage(normalized.text);
  const language =
    requestedLanguage === undefined
      ? undefined
      : (findLanguage(capabilities.languages, requestedLanguage)?.code ?? request.language);
  // An engine with its own input limit gets chunks no longer than that, whatever the request allows.
  const maxChunkChars = Math.min(request.maxChunkChars, capabilities.maxInputChars ?? Infinity);
  const spans = planChunks(normalized.text, request.sentenceGapSec, maxChunkChars);
  const engineOptions = checkEngineOptions(engine.id, capabilities, request.engineOptions);
  const timeline = new WordTimeline(request.text, normalized);

  // A matched voice speaks at the reference's rate; the request's speed applies on top.
  const speed = Math.min(4, Math.max(0.25, request.speed * (request.voiceMatch?.rate ?? 1)));
  const [minNative, maxNative] = capabilities.nativeSpeedRange ?? [1, 1];
  const nativeSpeed = Math.min(maxNative, Math.max(minNative, speed));
  const stretch = speed / nativeSpeed;

  const formatInfo = getFormatInfo(request.format);
  const encoderRate = formatInfo.resolveSampleRate(request.sampleRate);
  const warnings: EngineWarning[] = [...engineOptions.warnings];
  const aligner = capabilities.wordTimings || request.wordTimings === false ? undefined : context.align;
  if (aligner !== undefined) {
    warnings.push({ setting: 'word_timings', message: `the ${engine.id} engine reports no word timings; they come from forced alignment against eSpeak (approximate)` });
  }
  if (encoderRate !== request.sampleRate) {
    warnings.push({
      setting: 'sample_rate',
      message: `${request.format} cannot carry ${request.sampleRate} Hz; encoded at ${encoderRate} Hz.`,
    });
  }

  const engineRate = capabilities.sampleRate;
  const transforms: PcmTransform[] = [
    createTempoPitchTransform({ sampleRate: engineRate, speed: stretch, pitchSemitones: request.pitchSemitones }),
    // Speex quality 3 still rejects aliases by about 90 dB and costs half of quality 5; resampling
    // is otherwise the largest cost after the engine itself (docs/benchmarks.md).
    createResampler({ inputRate: engineRate, outputRate: encoderRate, quality: 3 }),
  ];
  if (request.watermark !== false) transforms.push(createWatermarker(encoderRate));
  const buffered = request.delivery === 'buffered';
  if (!buffered && request.normalization !== 'none') {
    transforms.push(
      createLoudnessNormalizer({
        mode: request.normalization,
        sampleRate: encoderRate,
        targetDbfs: request.normalization === 'peak' ? PEAK_TARGET_DBFS : RMS_TARGET_DBFS,
        initialGainDb: (request.normalization === 'peak' ? -6 : RMS_TARGET_DBFS) - TYPICAL_ENGINE_LEVEL_DBFS,
      }),
    );
  }
  let encoder: AudioEncoder | undefined;
  const collected: Float32Array[] = [];

  try {
    if (!buffered) {
      encoder = createEncoder(request.format, encoderOptions(request, encoderRate), { ffmpegPath: context.ffmpegPath });
    }
    yield {
      type: 'start',
      format: request.format,
      mimeType: formatInfo.mimeType,
      sampleRate: encoderRate,
      decodedSampleRate: formatInfo.decodedSampleRate(encoderRate),
      warnings,
    };

    let emittedSamples = 0;
    // Output time of everything fed so far; transforms hold some samples back, but not time.
    let fedSec = 0;
    const maxAudioSec = request.maxAudioSec ?? Infinity;
    const process = (samples: Float32Array): Float32Array => {
      fedSec += samples.length / engineRate / stretch;
      // Checked as audio is made, so whatever inflates it (gaps, slow speed, long text) is bounded.
      if (fedSec > maxAudioSec) throw audioBoundError(textField, maxAudioSec);
      let out = samples;
      for (const transform of transforms) out = transform.process(out);
      return out;
    };
    const flush = (): Float32Array => {
      let out: Float32Array = new Float32Array(0);
      for (const transform of transforms) out = concatFloat32([transform.process(out), transform.flush()]);
      return out;
    };
    async function* emit(samples: Float32Array): AsyncGenerator<SpeechPart> {
      if (samples.length === 0) return;
      emittedSamples += samples.length;
      if (buffered) {
        collected.push(samples);
        return;
      }
      const bytes = await encoder!.write(samples);
      if (bytes.length > 0) yield { type: 'audio', bytes };
    }

    const gapSec = request.sentenceGapSec;
    const voiceMatch = request.voiceMatch;
    // Gaps trim each chunk's edges, voice matching converts and the aligner times whole chunks, so they collect a chunk first.
    const wholeChunks = gapSec !== undefined || voiceMatch !== undefined || aligner !== undefined;
    for (let index = 0; index < spans.length; index++) {
      // Engines and encoders here resolve at once, so without this the whole text would run as one
      // microtask chain: an abort message (a macrotask) could not land until the end, and other
      // jobs on this thread would wait. One turn of the event loop per chunk costs microseconds.
      if (index > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal.aborted) return;
      const span = spans[index]!;
      if (gapSec !== undefined && index > 0 && gapSec > 0) {
        // Fed before the time-stretch, so it is pre-compensated to come out exactly gapSec long.
        yield* emit(process(silence(gapSec * stretch, engineRate)));
      }
      const chunkStartSec = fedSec;
      const engineAudio: Float32Array[] = [];
      const engineWords: EngineWordEvent[] = [];
      // The engine may stop a little past what the bound still allows (in its own, unstretched time).
      const maxDurationSec = (maxAudioSec - fedSec) * stretch + 0.1;
      for await (const part of engine.synthesize(
        {
          text: span.text,
          voiceId: request.voiceId,
          speed: nativeSpeed,
          ...(language === undefined ? {} : { language }),
          ...(request.reference === undefined ? {} : { reference: request.reference }),
          ...(request.prepared === undefined ? {} : { prepared: request.prepared }),
          ...(Object.keys(engineOptions.options).length === 0 ? {} : { options: engineOptions.options }),
          ...(Number.isFinite(maxDurationSec) ? { maxDurationSec } : {}),
          // With sentence gaps the pipeline trims each chunk's edges and makes the pause itself.
          continues: gapSec === undefined && index < spans.length - 1,
        },
        signal,
      )) {
        if (part.type === 'audio') {
          if (!(part.sampleRate > 0)) throw new ChorusError({ code: 'engine_failed', message: `The ${engine.id} engine sent audio without a sample rate.` });
          // Each part at its own rate: an engine may change rate within a text (a model per language).
          const samples = part.sampleRate === engineRate ? part.samples : resampleBuffer(part.samples, part.sampleRate, engineRate, 4);
          if (!wholeChunks) yield* emit(process(samples));
          else engineAudio.push(samples);
        } else if (part.type === 'word') {
          engineWords.push(part);
        } else {
          warnings.push(part.warning);
        }
      }
      if (signal.aborted) return;
      let leadingTrimMs = 0;
      if (wholeChunks) {
        let audio = concatFloat32(engineAudio);
        if (aligner !== undefined && audio.length > 0) {
          let aligned: Awaited<ReturnType<ChunkAligner>>;
          try {
            aligned = await aligner(audio, engineRate, span.text, language, signal);
          } catch (error) {
            // The aligner rejects on abort; the pipeline ends quietly then.
            if (signal.aborted) return;
            throw error;
          }
          for (const word of aligned) engineWords.push({ textStart: word.charStart, textEnd: word.charEnd, startMs: word.startMs, endMs: word.endMs });
        }
        if (gapSec !== undefined) {
          const [start, end] = speechBounds(audio);
          leadingTrimMs = (start / engineRate) * 1000;
          audio = audio.subarray(start, end);
        }
        // Length-preserving, so the engine's word times still hold.
        if (voiceMatch !== undefined && audio.length > 0) audio = transformVoice(audio, engineRate, voiceMatch.transform, signal);
        if (signal.aborted) return;
        yield* emit(process(audio));
      }
      const words = timeline.addChunk(span, engineWords, { startSec: chunkStartSec, endSec: fedSec, leadingTrimMs, stretch });
      const isLast = index === spans.length - 1;
      const lastWords = isLast ? timeline.finish() : [];
      if (words.length > 0 || lastWords.length > 0) yield { type: 'words', words: [...words, ...lastWords] };
      yield { type: 'chunk-end', index, chunkCount: spans.length, endSec: fedSec };
    }
    yield* emit(flush());

    if (buffered) {
      const pcm = concatFloat32(collected);
      if (request.normalization === 'peak') normalizePeak(pcm, PEAK_TARGET_DBFS);
      else if (request.normalization === 'rms') normalizeRms(pcm, RMS_TARGET_DBFS, PEAK_TARGET_DBFS, encoderRate);
      encoder = createEncoder(request.format, encoderOptions(request, encoderRate, pcm.length), {
        ffmpegPath: context.ffmpegPath,
      });
      const head = await encoder.write(pcm);
      if (head.length > 0) yield { type: 'audio', bytes: head };
    }
    if (encoder === undefined) throw new Error('unreachable: no encoder');
    const tail = await encoder.end();
    if (tail.length > 0) yield { type: 'audio', bytes: tail };
    yield {
      type: 'end',
      durationSec: emittedSamples / encoderRate,
      chunkCount: spans.length,
      characterCount: request.text.length,
    };
  } finally {
    for (const transform of transforms) transform.dispose();
    encoder?.dispose();
  }
}

function audioBoundError(textField: string, maxAudioSec: number): ChorusError {
  return new ChorusError({
    code: 'text_too_long',
    param: textField,
    message: `'${textField}' makes more than ${maxAudioSec} s of audio (CHORUS_MAX_AUDIO_SECONDS): send a shorter text, a faster speed or shorter gaps.`,
  });
}

function encoderOptions(request: SpeechRequest, sampleRate: number, totalSamples?: number) {
  return {
    sampleRate,
    ...(request.bitrateKbps === undefined ? {} : { bitrateKbps: request.bitrateKbps }),
    ...(totalSamples === undefined ? {} : { totalSamples }),
  };
}

/**
 * Sentence gaps need one sentence per engine call; otherwise a short first chunk, then chunks as large
 * as allowed. The same for every delivery.
 */
function planChunks(text: string, sentenceGapSec: number | undefined, maxChunkChars: number): Span[] {
  if (sentenceGapSec === undefined) {
    return chunkText(text, { maxChars: maxChunkChars, firstChunkMaxChars: Math.min(FIRST_CHUNK_CHARS, maxChunkChars) });
  }
  return splitSentences(text).flatMap((sentence) =>
    chunkText(sentence.text, { maxChars: maxChunkChars }).map((piece) => ({
      start: sentence.start + piece.start,
      end: sentence.start + piece.end,
      text: piece.text,
    })),
  );
}

/** First and last sample index above the silence threshold (the whole range if all silent). */
function speechBounds(samples: Float32Array): [number, number] {
  let start = 0;
  while (start < samples.length && Math.abs(samples[start]!) < EDGE_SILENCE_THRESHOLD) start++;
  let end = samples.length;
  while (end > start && Math.abs(samples[end - 1]!) < EDGE_SILENCE_THRESHOLD) end--;
  if (start >= end) return [0, samples.length];
  // Keep a few milliseconds so consonant onsets and releases are not clipped.
  const pad = 220;
  return [Math.max(0, start - pad), Math.min(samples.length, end + pad)];
}
