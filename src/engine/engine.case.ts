/**
 * The conformance suite every SpeechEngine passes, wherever it runs (in-process, behind the worker
 * proxy, in an engine-host process). An engine's own test file calls `describeSpeechEngine` with a
 * factory; the suite needs nothing from the engine but the contract.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChorusError } from '../errors.js';
import type { EnginePart, EngineSynthesisRequest, SpeechEngine } from './speech-engine.js';

export interface EngineUnderTest {
  readonly engine: SpeechEngine;
  /** Stops whatever the factory started (threads, processes). */
  close?(): Promise<void>;
}

export interface ConformanceOptions {
  /** A voice the engine has; absent = its first. */
  readonly voiceId?: string;
  /** A text the engine speaks in its language; absent = English. */
  readonly text?: string;
}

const DEFAULT_TEXT = 'The quick brown fox jumps over the lazy dog. Then it runs home, quite pleased with itself.';

async function collect(engine: SpeechEngine, request: EngineSynthesisRequest, signal = new AbortController().signal): Promise<EnginePart[]> {
  const parts: EnginePart[] = [];
  for await (const part of engine.synthesize(request, signal)) parts.push(part);
  return parts;
}

function audioOf(parts: readonly EnginePart[]): Float32Array[] {
  return parts.flatMap((part) => (part.type === 'audio' ? [part.samples] : []));
}

function sampleCount(parts: readonly EnginePart[]): number {
  return audioOf(parts).reduce((sum, samples) => sum + samples.length, 0);
}

export function describeSpeechEngine(name: string, start: () => Promise<EngineUnderTest>, options: ConformanceOptions = {}): void {
  describe(`SpeechEngine conformance: ${name}`, () => {
    let subject: EngineUnderTest;
    let voiceId: string;
    const text = options.text ?? DEFAULT_TEXT;
    before(async () => {
      subject = await start();
      voiceId = options.voiceId ?? subject.engine.listVoices()[0]!.id;
    });
    after(() => subject.close?.());

    it('lists a non-empty set of voices with unique ids, and declares a positive sample rate and its languages', () => {
      const voices = subject.engine.listVoices();
      assert.ok(voices.length > 0);
      const ids = voices.map((voice) => voice.id.toLowerCase());
      assert.equal(new Set(ids).size, ids.length, 'voice ids are unique (case-insensitively)');
      assert.ok(subject.engine.capabilities.sampleRate > 0);
      for (const language of subject.engine.capabilities.languages) {
        assert.ok(language.tag.length > 0 && language.code.length > 0, JSON.stringify(language));
      }
    });

    it('makes audio parts with a positive rate and finite samples, and word offsets inside the text', async () => {
      const parts = await collect(subject.engine, { text, voiceId });
      assert.ok(sampleCount(parts) > 0, 'some audio');
      for (const part of parts) {
        if (part.type === 'audio') {
          assert.ok(part.sampleRate > 0, `sample rate ${part.sampleRate}`);
          assert.ok(part.samples.every((sample) => Number.isFinite(sample)), 'finite samples');
        } else if (part.type === 'word') {
          assert.ok(part.textStart >= 0 && part.textStart < part.textEnd && part.textEnd <= text.length, `word ${part.textStart}..${part.textEnd}`);
          assert.ok(part.startMs >= 0 && part.endMs >= part.startMs, `word time ${part.startMs}..${part.endMs}`);
        }
      }
      if (subject.engine.capabilities.wordTimings) assert.ok(parts.some((part) => part.type === 'word'), 'an engine that declares word timings reports them');
    });

    it('refuses an unknown voice with voice_not_found', async () => {
      await assert.rejects(collect(subject.engine, { text, voiceId: 'no-such-voice-anywhere' }), (error: unknown) => {
        assert.ok(ChorusError.isInstance(error), String(error));
        assert.equal(error.code, 'voice_not_found');
        return true;
      });
    });

    it('stops without throwing once its signal aborts, before the whole text is spoken', async () => {
      const long = Array.from({ length: 40 }, () => text).join(' ');
      const controller = new AbortController();
      let samples = 0;
      for await (const part of subject.engine.synthesize({ text: long, voiceId }, controller.signal)) {
        if (part.type === 'audio') {
          samples += part.samples.length;
          controller.abort();
        }
      }
      const whole = sampleCount(await collect(subject.engine, { text, voiceId })) * 40;
      assert.ok(samples > 0 && samples < whole, `${samples} samples after the abort, of about ${whole}`);
    });

    it('keeps concurrent requests apart', async () => {
      const first = { text, voiceId };
      const second = { text: 'One, two, three.', voiceId };
      const alone = [await collect(subject.engine, first), await collect(subject.engine, second)];
      const together = await Promise.all([collect(subject.engine, first), collect(subject.engine, second)]);
      for (let i = 0; i < 2; i++) {
        const request = i === 0 ? first : second;
        for (const part of together[i]!) {
          if (part.type === 'word') assert.ok(part.textEnd <= request.text.length, 'words point into their own text');
        }
        // Mixed streams would swap or sum lengths; a deterministic engine may still vary by a few
        // samples with its internal state (eSpeak ends a text 10 samples apart after another text).
        const ratio = sampleCount(together[i]!) / sampleCount(alone[i]!);
        const tolerance = subject.engine.capabilities.deterministic === true ? 0.01 : 0.5;
        assert.ok(Math.abs(ratio - 1) <= tolerance, `about as long as alone (${ratio.toFixed(4)})`);
        const words = (parts: readonly EnginePart[]) => parts.filter((part) => part.type === 'word').length;
        if (subject.engine.capabilities.deterministic === true) assert.equal(words(together[i]!), words(alone[i]!), 'the same words as alone');
      }
    });
  });
}
