import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ChorusError } from '../errors.js';
import { FAMILY_FILES, type ModelFamily } from './model-manifest.js';

/** One Kokoro speaker in voices.bin: 510 style vectors of 256 float32. */
const KOKORO_SPEAKER_BYTES = 510 * 256 * 4;

/**
 * Which family a model directory holds, from its files (and its name as a tie-breaker): Pocket has
 * its five graphs, Kokoro and Kitten a voices.bin (Kokoro's is a whole number of 510×256 float32
 * speakers, and multi-language Kokoro brings lexicons), Piper an .onnx with tokens.txt or .onnx.json.
 */
export async function detectFamily(root: string, nameHint: string): Promise<ModelFamily> {
  const names = await readdir(root);
  const hint = nameHint.toLowerCase();
  if (names.some((name) => /^lm_flow.*\.onnx$/.test(name)) && names.some((name) => /^lm_main.*\.onnx$/.test(name))) return 'pocket';
  if (names.includes('voices.bin')) {
    if (hint.includes('kitten')) return 'kitten';
    if (hint.includes('kokoro') || names.some((name) => name.startsWith('lexicon'))) return 'kokoro';
    const { size } = await stat(join(root, 'voices.bin'));
    return size > 0 && size % KOKORO_SPEAKER_BYTES === 0 ? 'kokoro' : 'kitten';
  }
  if (names.some((name) => name.endsWith('.onnx')) && (names.includes('tokens.txt') || names.some((name) => name.endsWith('.onnx.json')))) return 'piper';
  throw new ChorusError({
    code: 'invalid_request',
    param: '--family',
    message: `Cannot tell which kind of model ${root} holds (files: ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', …' : ''}). Give --family kokoro|piper|kitten|pocket.`,
  });
}

/** sherpa-onnx config key → file, found by the names sherpa-onnx's own tarballs use. */
export async function detectFiles(root: string, family: ModelFamily): Promise<Record<string, string>> {
  const names = (await readdir(root)).sort();
  const onnx = names.filter((name) => name.endsWith('.onnx'));
  const first = (pattern: RegExp) => names.find((name) => pattern.test(name));
  const files: Record<string, string | undefined> = {};
  switch (family) {
    case 'kokoro':
    case 'kitten': {
      files['model'] = ['model.onnx', 'model.fp16.onnx', 'model.int8.onnx'].find((name) => names.includes(name)) ?? (onnx.length === 1 ? onnx[0] : undefined);
      files['voices'] = first(/^voices\.bin$/);
      files['tokens'] = first(/^tokens\.txt$/);
      files['dataDir'] = first(/^espeak-ng-data$/);
      if (family === 'kokoro') {
        const lexicons = ['lexicon-us-en.txt', 'lexicon-zh.txt'].filter((name) => names.includes(name));
        const chosen = lexicons.length > 0 ? lexicons : names.filter((name) => /^lexicon.*\.txt$/.test(name));
        if (chosen.length > 0) files['lexicon'] = chosen.join(',');
      }
      break;
    }
    case 'piper':
      files['model'] = onnx.find((name) => names.includes(`${name}.json`)) ?? (onnx.length === 1 ? onnx[0] : undefined);
      files['tokens'] = first(/^tokens\.txt$/);
      files['dataDir'] = first(/^espeak-ng-data$/);
      break;
    case 'pocket':
      files['lmFlow'] = first(/^lm_flow.*\.onnx$/);
      files['lmMain'] = first(/^lm_main.*\.onnx$/);
      files['encoder'] = first(/^encoder.*\.onnx$/);
      files['decoder'] = first(/^decoder.*\.onnx$/);
      files['textConditioner'] = first(/^text_conditioner.*\.onnx$/);
      files['vocabJson'] = first(/^vocab\.json$/);
      files['tokenScoresJson'] = first(/^token_scores\.json$/);
      break;
  }
  const missing = FAMILY_FILES[family].required.filter((key) => files[key] === undefined);
  if (missing.length > 0) {
    const piperHint = family === 'piper' ? " A voice straight from Piper's own repository lacks tokens.txt, espeak-ng-data and sherpa-onnx's metadata: import the sherpa-onnx vits-piper-… tarball of the voice instead." : '';
    throw new ChorusError({
      code: 'invalid_request',
      detail: 'incomplete_model',
      message: `${root} does not look like a complete ${family} model: found nothing for ${missing.join(', ')} (a ${family} model needs ${FAMILY_FILES[family].required.join(', ')}).${piperHint}`,
    });
  }
  return Object.fromEntries(Object.entries(files).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
