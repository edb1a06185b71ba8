import assert from 'node:assert/strict';

export interface LocalVoicesOutput {
  local_voices: Record<string, unknown>[];
  total_local_voices: number;
  stats: { total_voices: number; gender_distribution: { male: number; female: number } };
}

/** The documented `list_local_voices` shape: 37 voices, 21 male and 16 female, 8-hex-digit ids. */
export function assertLocalVoicesShape(value: unknown): LocalVoicesOutput {
  const output = value as LocalVoicesOutput;
  assert.deepEqual(Object.keys(output).sort(), ['local_voices', 'stats', 'total_local_voices']);
  assert.equal(output.total_local_voices, 37);
  assert.deepEqual(output.stats, { total_voices: 37, gender_distribution: { male: 21, female: 16 } });
  assert.equal(output.local_voices.length, 37);
  for (const voice of output.local_voices) {
    assert.deepEqual(Object.keys(voice).sort(), ['duration', 'gender', 'original_file', 'speaker_name', 'type', 'voice_id']);
    assert.match(String(voice['voice_id']), /^[0-9a-f]{8}$/);
  }
  return output;
}
