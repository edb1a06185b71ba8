import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ProbeResult {
  readonly codec: string;
  readonly formatName: string;
  readonly sampleRate: number;
  readonly channels: number;
  /** ffprobe's container duration, seconds. */
  readonly duration: number;
  /** Duration from decoding every sample (exact, format-independent). */
  readonly decodedDuration: number;
}

/** Writes the bytes to a temp file and asks ffprobe (and ffmpeg, for the decoded length) about it. */
export function probeAudio(bytes: Uint8Array, extension: string, inputOptions: string[] = []): ProbeResult {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-probe-'));
  const file = join(dir, `audio.${extension}`);
  try {
    writeFileSync(file, bytes);
    const json = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', ...inputOptions, '-show_streams', '-show_format', '-of', 'json', file], {
        encoding: 'utf8',
      }),
    ) as { streams: Record<string, string | number>[]; format: Record<string, string> };
    const stream = json.streams[0];
    if (stream === undefined) throw new Error('ffprobe found no audio stream');
    const decoded = execFileSync(
      'ffmpeg',
      ['-v', 'error', ...inputOptions, '-i', file, '-f', 's16le', '-ac', '1', '-ar', String(stream['sample_rate']), '-'],
      { maxBuffer: 1 << 30 },
    );
    return {
      codec: String(stream['codec_name']),
      formatName: json.format['format_name'] ?? '',
      sampleRate: Number(stream['sample_rate']),
      channels: Number(stream['channels']),
      duration: Number(json.format['duration'] ?? stream['duration']),
      decodedDuration: decoded.length / 2 / Number(stream['sample_rate']),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Duration of a canonical 44-byte-header 16-bit mono WAV. */
export function wavDuration(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sampleRate = view.getUint32(24, true);
  return (bytes.byteLength - 44) / 2 / sampleRate;
}
