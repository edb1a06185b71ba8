/** Chorus DSP: resampling, tempo/pitch, loudness, silence. Call `await initDsp()` once per thread first. */
export { initDsp, isDspReady, dspInfo } from './dsp-modules.js';
export {
  createResampler,
  createPlaybackRateTransform,
  resampleBuffer,
  identityTransform,
  type ResamplerOptions,
  type PlaybackRateOptions,
} from './resampler.js';
export {
  createTempoPitchTransform,
  semitonesToFactor,
  SPEED_RANGE,
  PITCH_SEMITONES_RANGE,
  type TempoPitchOptions,
} from './time-stretch.js';
export {
  normalizePeak,
  normalizeRms,
  limitInPlace,
  measurePeak,
  measureRmsDbfs,
  createLoudnessNormalizer,
  dbToGain,
  gainToDb,
  type LoudnessNormalizerOptions,
} from './loudness.js';
export { silence, silenceBounds, trimSilence, type SilenceBoundsOptions } from './silence.js';
export { chainTransforms } from './chain.js';
