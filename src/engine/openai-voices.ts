/**
 * OpenAI's voice names and how each sounds, the one vocabulary every engine maps: unmodified OpenAI
 * clients send these names whatever engine serves them.
 */
export const OPENAI_VOICE_GENDERS: Readonly<Record<string, 'female' | 'male'>> = {
  alloy: 'female',
  ash: 'male',
  ballad: 'male',
  coral: 'female',
  echo: 'male',
  fable: 'male',
  nova: 'female',
  onyx: 'male',
  sage: 'female',
  shimmer: 'female',
  verse: 'male',
  marin: 'female',
  cedar: 'male',
};
