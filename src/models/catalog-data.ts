/**
 * The built-in model catalogue. Digests and byte sizes were NOT checked against the hosts from
 * here (no model can be downloaded on the machine this was written on): each one is a value that
 * several public projects pin in their own download code, as `checksumNote` says. An entry
 * without `sha256` is installed on trust: `pull` computes the digest, prints it and records it in
 * the manifest. Replace the whole list with `CHORUS_MODEL_CATALOG`.
 */
const RELEASE = 'https://github.com/k2-fsa/sherpa-onnx/releases/download/tts-models';

export const KOKORO_V1_0_VOICES = [
  'af_alloy', 'af_aoede', 'af_bella', 'af_heart', 'af_jessica', 'af_kore', 'af_nicole', 'af_nova', 'af_river', 'af_sarah', 'af_sky',
  'am_adam', 'am_echo', 'am_eric', 'am_fenrir', 'am_liam', 'am_michael', 'am_onyx', 'am_puck', 'am_santa',
  'bf_alice', 'bf_emma', 'bf_isabella', 'bf_lily', 'bm_daniel', 'bm_fable', 'bm_george', 'bm_lewis',
  'ef_dora', 'em_alex', 'ff_siwis', 'hf_alpha', 'hf_beta', 'hm_omega', 'hm_psi', 'if_sara', 'im_nicola',
  'jf_alpha', 'jf_gongitsune', 'jf_nezumi', 'jf_tebukuro', 'jm_kumo', 'pf_dora', 'pm_alex', 'pm_santa',
  'zf_xiaobei', 'zf_xiaoni', 'zf_xiaoxiao', 'zf_xiaoyi', 'zm_yunjian', 'zm_yunxi', 'zm_yunxia', 'zm_yunyang', 'em_santa',
];
const KOKORO_V0_19_VOICES = ['af', 'af_bella', 'af_nicole', 'af_sarah', 'af_sky', 'am_adam', 'am_michael', 'bf_emma', 'bf_isabella', 'bm_george', 'bm_lewis'];
const KITTEN_VOICES = ['expr-voice-2-m', 'expr-voice-2-f', 'expr-voice-3-m', 'expr-voice-3-f', 'expr-voice-4-m', 'expr-voice-4-f', 'expr-voice-5-m', 'expr-voice-5-f'];

const KOKORO_V1_0_LANGUAGES = ['en-US', 'en-GB', 'es', 'fr', 'hi', 'it', 'ja', 'pt-BR', 'zh'];
const KOKORO_LICENSE = 'Apache-2.0 (hexgrad/Kokoro-82M weights; espeak-ng-data GPL-3.0)';
const PINNED_ELSEWHERE = 'sha256 and size as pinned by several independent public projects; not checked against the host from here';

function kokoroFiles(model: string, lexicon: boolean): Record<string, string> {
  return {
    model,
    voices: 'voices.bin',
    tokens: 'tokens.txt',
    dataDir: 'espeak-ng-data',
    ...(lexicon ? { lexicon: 'lexicon-us-en.txt,lexicon-zh.txt' } : {}),
  };
}

function piper(voice: string, language: string, sha256: string | undefined, size: number | undefined, license: string, description: string, licenseNote?: string) {
  const stem = `vits-piper-${voice}`;
  return {
    name: stem.toLowerCase(),
    aliases: [voice, stem],
    family: 'piper',
    description,
    license,
    ...(licenseNote === undefined ? {} : { licenseNote }),
    languages: [language],
    voices: { count: 1, names: [voice] },
    files: { model: `${voice}.onnx`, tokens: 'tokens.txt', dataDir: 'espeak-ng-data' },
    sources: [{ type: 'archive', url: `${RELEASE}/${stem}.tar.bz2`, ...(sha256 === undefined ? {} : { sha256 }), ...(size === undefined ? {} : { size }) }],
    checksumNote: sha256 === undefined ? 'no published sha256 found: installed on trust, digest recorded on first download' : PINNED_ELSEWHERE,
  };
}

/** Kokoro v1.1-zh: 103 voices (3 English, 100 Mandarin); the fp32 and int8 builds differ only in the model file. */
function kokoroV1_1(name: string, model: string, precision: string, sha256: string, size: number, checksumNote: string) {
  return {
    name,
    aliases: [],
    family: 'kokoro',
    description: `Kokoro-82M v1.1-zh, ${precision}: 103 voices (3 English, 100 Mandarin), English and Chinese`,
    license: KOKORO_LICENSE,
    languages: ['en-US', 'en-GB', 'zh'],
    voices: { count: 103 },
    files: kokoroFiles(model, true),
    sources: [{ type: 'archive', url: `${RELEASE}/${name}.tar.bz2`, sha256, size }],
    checksumNote,
  };
}

const PIPER_LICENSE_NOTE = 'Piper voices are licensed per voice, by the dataset they were trained on: read MODEL_CARD in the model directory before commercial use.';

export const BUILT_IN_CATALOGUE = {
  models: [
    {
      name: 'kokoro-multi-lang-v1_0',
      aliases: ['kokoro'],
      family: 'kokoro',
      description: 'Kokoro-82M v1.0, fp32: 54 voices, English, Spanish, French, Hindi, Italian, Japanese, Portuguese, Chinese (24 kHz)',
      license: KOKORO_LICENSE,
      languages: KOKORO_V1_0_LANGUAGES,
      voices: { count: KOKORO_V1_0_VOICES.length, names: KOKORO_V1_0_VOICES },
      files: kokoroFiles('model.onnx', true),
      sources: [
        {
          type: 'archive',
          url: `${RELEASE}/kokoro-multi-lang-v1_0.tar.bz2`,
          sha256: 'c5f7e2d2caf082bc1d20fb70334a61d99d20b484500aad32e7cf84c128ea3298',
          previousSha256: ['c133d26353d776da730870dac7da07dbfc9a5e3bc80cc5e8e83ab6e823be7046'],
          size: 349_906_910,
        },
      ],
      checksumNote: `${PINNED_ELSEWHERE}. The archive was re-uploaded in September 2026 (349,906,910 bytes, em_santa added as speaker 53); the earlier upload (349,418,188 bytes, 53 speakers) is accepted too`,
    },
    {
      name: 'kokoro-int8-multi-lang-v1_0',
      aliases: [],
      family: 'kokoro',
      description: 'Kokoro-82M v1.0, int8 (a third of the download, about the same voice): the same voices and languages',
      license: KOKORO_LICENSE,
      languages: KOKORO_V1_0_LANGUAGES,
      voices: { count: KOKORO_V1_0_VOICES.length, names: KOKORO_V1_0_VOICES },
      files: kokoroFiles('model.int8.onnx', true),
      sources: [{ type: 'archive', url: `${RELEASE}/kokoro-int8-multi-lang-v1_0.tar.bz2`, sha256: '4c3052abaa60943a341f193888cf6abd68787dae6ab8ae5c925a706caa247e4e', size: 132_303_094 }],
      checksumNote: PINNED_ELSEWHERE,
    },
    kokoroV1_1('kokoro-int8-multi-lang-v1_1', 'model.int8.onnx', 'int8', 'a1e94694776049035c4f2c6529f003aaece993c76aae9a78995831c3c4dcafc6', 147_031_220, PINNED_ELSEWHERE),
    kokoroV1_1('kokoro-multi-lang-v1_1', 'model.onnx', 'fp32', 'a3f4c73d043860e3fd2e5b06f36795eb81de0fc8e8de6df703245edddd87dbad', 364_816_464, 'sha256 and size as published by one public project; not checked against the host from here'),
    {
      name: 'kokoro-en-v0_19',
      aliases: [],
      family: 'kokoro',
      description: 'Kokoro-82M v0.19, fp32: 11 English voices (US and British)',
      license: KOKORO_LICENSE,
      languages: ['en-US', 'en-GB'],
      voices: { count: KOKORO_V0_19_VOICES.length, names: KOKORO_V0_19_VOICES },
      files: kokoroFiles('model.onnx', false),
      sources: [{ type: 'archive', url: `${RELEASE}/kokoro-en-v0_19.tar.bz2`, sha256: '912804855a04745fa77a30be545b3f9a5d15c4d66db00b88cbcd4921df605ac7', size: 319_625_534 }],
      checksumNote: PINNED_ELSEWHERE,
    },
    piper('en_US-lessac-medium', 'en-US', '9e3febfacf0abf4270172d2958bcec246032b7e88efc2720840cc80c93de334e', 67_230_653, 'per voice (Blizzard 2013 Lessac dataset): see MODEL_CARD', 'Piper voice Lessac, US English, female, medium quality (22 kHz)', PIPER_LICENSE_NOTE),
    piper('en_US-amy-low', 'en-US', undefined, undefined, 'per voice: see MODEL_CARD', 'Piper voice Amy, US English, female, low quality (16 kHz, fast)', PIPER_LICENSE_NOTE),
    piper('en_GB-alan-medium', 'en-GB', 'a48d4017da0f77668b27bed63fe6e04dd64c6397e1fadad4f460efb0ef7c9012', 67_220_121, 'per voice: see MODEL_CARD', 'Piper voice Alan, British English, male, medium quality (22 kHz)', PIPER_LICENSE_NOTE),
    piper('de_DE-thorsten-medium', 'de-DE', '50487d9c95fdf2191f31d2588569381063ba1591dcd4c7d4bdd30f12b2191714', 67_214_254, 'CC0-1.0 (Thorsten dataset)', 'Piper voice Thorsten, German, male, medium quality (22 kHz)'),
    {
      name: 'kitten-nano-en-v0_2-fp16',
      aliases: ['kitten'],
      family: 'kitten',
      description: 'KittenTTS nano v0.2, fp16: 8 English voices in a 25 MB download (24 kHz)',
      license: 'Apache-2.0',
      languages: ['en-US'],
      voices: { count: KITTEN_VOICES.length, names: KITTEN_VOICES },
      files: { model: 'model.fp16.onnx', voices: 'voices.bin', tokens: 'tokens.txt', dataDir: 'espeak-ng-data' },
      sources: [{ type: 'archive', url: `${RELEASE}/kitten-nano-en-v0_2-fp16.tar.bz2`, sha256: '0345a8a2f4a710cb8f7912c9a731ded8b3e1e69b33a871efa95c2e64651518fe', size: 26_586_708 }],
      checksumNote: PINNED_ELSEWHERE,
    },
    {
      name: 'sherpa-onnx-pocket-tts-int8-2026-01-26',
      aliases: ['pocket', 'pocket-tts'],
      family: 'pocket',
      description: 'Kyutai Pocket TTS (100M), int8: zero-shot voice cloning from a short reference clip, English (24 kHz)',
      license: 'CC-BY-4.0 (Kyutai weights); the ONNX export: non-commercial',
      licenseNote:
        'NON-COMMERCIAL: the README shipped with this ONNX export (KevinAHM/pocket-tts-onnx) says it is for non-commercial use, although the Kyutai weights it was made from are CC-BY-4.0. Kyutai\'s terms also forbid imitating a person\'s voice without their consent.',
      languages: ['en'],
      voices: { count: 1 },
      files: {
        lmFlow: 'lm_flow.int8.onnx',
        lmMain: 'lm_main.int8.onnx',
        encoder: 'encoder.onnx',
        decoder: 'decoder.int8.onnx',
        textConditioner: 'text_conditioner.onnx',
        vocabJson: 'vocab.json',
        tokenScoresJson: 'token_scores.json',
      },
      sources: [
        { type: 'archive', url: `${RELEASE}/sherpa-onnx-pocket-tts-int8-2026-01-26.tar.bz2`, sha256: '2f3b88823cbbb9bf0b2477ec8ae7b3fec417b3a87b6bb5f256dba66f2ad967cb' },
        {
          type: 'huggingface',
          repo: 'csukuangfj2/sherpa-onnx-pocket-tts-int8-2026-01-26',
          revision: 'main',
          files: [
            { path: 'lm_flow.int8.onnx' },
            { path: 'lm_main.int8.onnx' },
            { path: 'encoder.onnx' },
            { path: 'decoder.int8.onnx' },
            { path: 'text_conditioner.onnx' },
            { path: 'vocab.json' },
            { path: 'token_scores.json' },
          ],
        },
      ],
      checksumNote: `archive: ${PINNED_ELSEWHERE} (its size is not published); Hugging Face mirror: no per-file digests found, installed on trust, and its file layout is assumed to match the archive`,
    },
  ],
};
