import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { decodeAudioBytes } from '../audio/decode-audio.js';
import { detectWatermark } from '../audio/watermark/watermark.js';
import { ChorusError } from '../errors.js';

/** Exit 0 for both answers, so scripts can tell "not marked" (0) from "could not check" (2). */
export async function watermarkCommand(args: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
    const [action, file, ...extra] = positionals;
    if (action !== 'detect' || file === undefined || extra.length > 0) {
      throw new ChorusError({ code: 'invalid_request', param: 'FILE', message: 'Usage: chorus watermark detect FILE [--json]' });
    }
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      throw new ChorusError({ code: 'invalid_request', param: 'FILE', message: `Cannot read '${file}': ${(error as Error).message}` });
    }
    const audio = await decodeAudioBytes(bytes, file, { minSec: 0.1, maxSec: 3600 });
    const result = detectWatermark(audio.samples, audio.sampleRate);
    if (values.json) {
      const report = { file, ...result, durationSec: audio.durationSec, sampleRate: audio.sampleRate, format: audio.format };
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      process.stdout.write(
        `watermark: ${result.detected ? 'detected' : 'not detected'} (score ${result.score.toFixed(1)}, threshold ${result.threshold.toFixed(1)}; ` +
          `${result.analysedSec.toFixed(1)} s of ${audio.durationSec.toFixed(1)} s analysed)\n`,
      );
    }
    return 0;
  } catch (error) {
    process.stderr.write(`chorus: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
}
