/**
 * Figure 8: voice matching and conversion on the embedded engine.
 *
 *   a. conversion speed: the pitch/formant transform of 60 s of speech, in-process, against real time and
 *      against the raw engine's time to synthesise the same 60 s (medians over rounds)
 *   b. cloning (analysis) time of a 30 s reference: decode + analyse, in-process, and the `voice_cloning` job
 *      end to end through the server (the first one includes measuring the 38 built-in voices once)
 *   c. pitch goal: references from a formant synthesizer with known median pitch are cloned through the job API;
 *      speech in the new voice (job API) must have a median pitch within 10% of the reference's
 *   d. conversion goals: a 10 s eSpeak recording converted to each reference: duration within 1%, median pitch
 *      within 10% of the reference's
 */
import { trackPitch, voicedPitchStats } from '../src/audio/analysis/pitch.js';
import { analyzeVoice } from '../src/audio/analysis/voice-profile.js';
import { decodeAudioBytes } from '../src/audio/decode-audio.js';
import { initDsp } from '../src/audio/dsp/index.js';
import { planVoiceTransform, transformVoice } from '../src/audio/dsp/voice-transform.js';
import { floatToS16leBytes, wavHeader } from '../src/audio/encoders/wav-encoder.js';
import { concatBytes, concatFloat32, int16ToFloat } from '../src/audio/pcm.js';
import type { SpeechEngine } from '../src/engine/speech-engine.js';
import { renderPcm } from '../src/pipeline/render-pcm.js';
import { formantSynthReference } from '../test/support/reference-voices.js';
import { fmtSummary, jsonRequest, log, markdownTable, median, now, summarize, type ServerProcess, type Summary } from './support.js';
import { LONG_TEXT } from './texts.js';

export const VOICE_ROUNDS = 5;
const RATE = 24_000;
/** Known median pitches of the formant-synthesizer references (male to female range). */
const REFERENCE_PITCHES_HZ = [95, 120, 150, 190, 230, 270] as const;
const TTS_TEXT = 'The library voice reads this sentence aloud, so its pitch can be measured against the reference.';

export interface VoiceBenchResult {
  readonly conversionMs: number[];
  readonly engineMs: number[];
  readonly inputSec: number;
  readonly analysisMs: number[];
  readonly referenceSec: number;
  readonly cloneJobMs: number[];
  readonly convertedInputSec: number;
  readonly matches: { referenceHz: number; measuredRefHz: number; ttsHz: number; baseVoice: string; convertedHz: number; durationError: number }[];
}

async function speak(engine: SpeechEngine, text: string, voiceId: string, seconds?: number): Promise<{ samples: Float32Array; ms: number }> {
  const started = now();
  const request = { text, voiceId, speed: 1, pitchSemitones: 0, sampleRate: RATE, normalization: 'none' as const, maxChunkChars: 400, delivery: 'stream' as const, watermark: false };
  let { samples } = await renderPcm({ engine, ffmpegPath: 'ffmpeg' }, request, new AbortController().signal);
  const ms = now() - started;
  if (seconds !== undefined) {
    while (samples.length < seconds * RATE) samples = concatFloat32([samples, samples]);
    samples = samples.slice(0, seconds * RATE);
  }
  return { samples, ms };
}

function wav(samples: Float32Array, rate: number): Uint8Array {
  const data = floatToS16leBytes(samples);
  return concatBytes([wavHeader(rate, data.length), data]);
}

function medianPitch(samples: Float32Array, rate: number): number {
  return voicedPitchStats(trackPitch(samples, rate))?.medianHz ?? Number.NaN;
}

function decodeWav(base64: string): { samples: Float32Array; rate: number } {
  const bytes = Buffer.from(base64, 'base64');
  const rate = bytes.readUInt32LE(24);
  const data = bytes.subarray(44);
  return { samples: int16ToFloat(new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + (data.length & ~1)))), rate };
}

async function runsync(server: ServerProcess, input: Record<string, unknown>): Promise<{ ms: number; output: Record<string, any> }> {
  const { ms, json } = await jsonRequest(server.url, '/v2/chatterbox-v2/runsync', { body: { input } });
  if (json['status'] !== 'COMPLETED') throw new Error(`chatterbox-v2 ${String(input['operation'])}: ${JSON.stringify(json).slice(0, 300)}`);
  return { ms, output: json['output'] as Record<string, any> };
}

export async function measureVoices(engine: SpeechEngine, server: ServerProcess): Promise<VoiceBenchResult> {
  await initDsp();
  // a. conversion of 60 s, against the engine's own time for those 60 s.
  const inputSec = 60;
  const target = analyzeVoice((await speak(engine, LONG_TEXT.slice(0, 600), 'Amy')).samples, RATE);
  const conversionMs: number[] = [];
  const engineMs: number[] = [];
  for (let round = 0; round < VOICE_ROUNDS; round++) {
    const { samples, ms } = await speak(engine, LONG_TEXT, 'Albert', inputSec);
    // The raw engine made the whole long text; scale its time to the 60 s that are converted.
    const fullSec = (await speak(engine, LONG_TEXT, 'Albert')).samples.length / RATE;
    engineMs.push(ms * (inputSec / fullSec));
    const started = now();
    const source = analyzeVoice(samples, RATE);
    transformVoice(samples, RATE, planVoiceTransform(source, target));
    conversionMs.push(now() - started);
    log(`figure 8: round ${round + 1}/${VOICE_ROUNDS}: convert 60 s in ${conversionMs.at(-1)!.toFixed(0)} ms`);
  }

  // b. analysis of a 30 s reference (another synthesizer), in-process and as a cloning job.
  const referenceSec = 30;
  const reference30 = formantSynthReference({ f0Hz: 180, seconds: referenceSec, sampleRate: 44_100 });
  const reference30Wav = wav(reference30.samples, reference30.sampleRate);
  const analysisMs: number[] = [];
  for (let round = 0; round < VOICE_ROUNDS; round++) {
    const started = now();
    const decoded = await decodeAudioBytes(reference30Wav, 'reference_audio', { maxSec: 60 });
    analyzeVoice(decoded.samples, decoded.sampleRate);
    analysisMs.push(now() - started);
  }
  const cloneJobMs: number[] = [];
  for (let round = 0; round < VOICE_ROUNDS; round++) {
    const { ms } = await runsync(server, { operation: 'voice_cloning', reference_audio: Buffer.from(reference30Wav).toString('base64'), voice_name: `Bench30s${round}`, no_watermark: true });
    cloneJobMs.push(ms);
  }

  // c, d. pitch and duration goals through the server.
  const input = (await speak(engine, LONG_TEXT.slice(0, 180), 'Albert')).samples;
  const inputWav = Buffer.from(wav(input, RATE)).toString('base64');
  const matches: VoiceBenchResult['matches'] = [];
  for (const referenceHz of REFERENCE_PITCHES_HZ) {
    const reference = formantSynthReference({ f0Hz: referenceHz, seconds: 10, sampleRate: 22_050 });
    const measuredRefHz = medianPitch(reference.samples, reference.sampleRate);
    const name = `Bench${referenceHz}Hz`;
    await runsync(server, { operation: 'voice_cloning', reference_audio: Buffer.from(wav(reference.samples, reference.sampleRate)).toString('base64'), voice_name: name });
    const tts = await runsync(server, { operation: 'tts', mode: 'basic', text: TTS_TEXT, voice_name: name, no_watermark: true });
    const spoken = decodeWav(tts.output['audio']);
    const converted = await runsync(server, { operation: 'voice_conversion', input_audio: inputWav, voice_name: name, no_watermark: true });
    const out = decodeWav(converted.output['audio']);
    matches.push({
      referenceHz,
      measuredRefHz,
      ttsHz: medianPitch(spoken.samples, spoken.rate),
      baseVoice: String(tts.output['base_voice']),
      convertedHz: medianPitch(out.samples, out.rate),
      durationError: Math.abs(out.samples.length / out.rate - input.length / RATE) / (input.length / RATE),
    });
    log(`figure 8: reference ${referenceHz} Hz: tts ${matches.at(-1)!.ttsHz.toFixed(1)} Hz, converted ${matches.at(-1)!.convertedHz.toFixed(1)} Hz`);
  }
  return { conversionMs, engineMs, inputSec, analysisMs, referenceSec, cloneJobMs, convertedInputSec: input.length / RATE, matches };
}

export function renderVoices(result: VoiceBenchResult): string {
  const conversion: Summary = summarize(result.conversionMs);
  const rtf = summarize(result.conversionMs.map((ms) => ms / 1000 / result.inputSec));
  const vsEngine = summarize(result.conversionMs.map((ms, i) => ms / result.engineMs[i]!));
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const ttsErrors = result.matches.map((m) => Math.abs(m.ttsHz - m.measuredRefHz) / m.measuredRefHz);
  const convErrors = result.matches.map((m) => Math.abs(m.convertedHz - m.measuredRefHz) / m.measuredRefHz);
  const durationErrors = result.matches.map((m) => m.durationError);
  const lines = [
    '## 8. Voice matching and conversion (embedded engine)',
    '',
    'What is measured: the signal-processing voice features of docs/voices.md. Cloning on the embedded engine is',
    '*voice matching* (nearest built-in voice moved to the reference\'s pitch, range, formant scale and rate), and',
    'conversion is a pitch/formant transform; neither reproduces a timbre.',
    '',
    markdownTable(
      ['measure', 'median [min–max]', 'baseline', 'ratio'],
      [
        [
          `convert ${result.inputSec} s of speech (analysis + transform, in-process)`,
          fmtSummary(conversion, 0, ' ms'),
          `engine + pipeline (pcm) making those ${result.inputSec} s: ${median(result.engineMs).toFixed(0)} ms`,
          `RTF ${fmtSummary(rtf, 3)}; ${fmtSummary(vsEngine, 2)}x the engine`,
        ],
        [
          `analyse a ${result.referenceSec} s reference (decode + analysis, in-process)`,
          fmtSummary(summarize(result.analysisMs), 0, ' ms'),
          `${result.referenceSec} s of audio`,
          `RTF ${(median(result.analysisMs) / 1000 / result.referenceSec).toFixed(3)}`,
        ],
        [
          `voice_cloning job with a ${result.referenceSec} s reference (/runsync, incl. sample audio)`,
          fmtSummary(summarize(result.cloneJobMs), 0, ' ms'),
          'first job measures the 38 built-in voices once',
          '',
        ],
      ],
    ),
    '',
    `Goals: speech in a cloned voice and converted speech have a median pitch within 10% of the reference's; converted`,
    `speech keeps its duration within 1%. References: a formant synthesizer (test/support/reference-voices.ts) with a`,
    `known median pitch; pitch measured with Chorus's YIN tracker; converted input: ${result.convertedInputSec.toFixed(1)} s of eSpeak 'Albert'.`,
    '',
    markdownTable(
      ['reference median', 'measured', 'base voice', 'cloned voice, tts', 'error', 'converted', 'error', 'duration error'],
      result.matches.map((m, i) => [
        `${m.referenceHz} Hz`,
        `${m.measuredRefHz.toFixed(1)} Hz`,
        m.baseVoice,
        `${m.ttsHz.toFixed(1)} Hz`,
        pct(ttsErrors[i]!),
        `${m.convertedHz.toFixed(1)} Hz`,
        pct(convErrors[i]!),
        pct(durationErrors[i]!),
      ]),
    ),
    '',
    `- Cloned-voice pitch: worst error ${pct(Math.max(...ttsErrors))} (goal ≤ 10%): **${Math.max(...ttsErrors) <= 0.1 ? 'met' : 'not met'}**.`,
    `- Converted pitch: worst error ${pct(Math.max(...convErrors))} (goal ≤ 10%): **${Math.max(...convErrors) <= 0.1 ? 'met' : 'not met'}**.`,
    `- Converted duration: worst error ${pct(Math.max(...durationErrors))} (goal ≤ 1%): **${Math.max(...durationErrors) <= 0.01 ? 'met' : 'not met'}**.`,
    '',
  ];
  return lines.join('\n');
}
