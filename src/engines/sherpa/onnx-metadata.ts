import { open } from 'node:fs/promises';

/**
 * Reads an ONNX file's `metadata_props` (ModelProto field 14: the key/value pairs sherpa's export
 * scripts write) without onnxruntime and without reading the graph: the top-level protobuf fields
 * are walked by their tags and the graph (hundreds of MB in a real model) is skipped by its length.
 */
const METADATA_FIELD = 14;
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;
/** Any single metadata entry larger than this is not something sherpa wrote. */
const MAX_ENTRY_BYTES = 16 * 1024 * 1024;

export class OnnxFormatError extends Error {}

export async function readOnnxMetadata(path: string): Promise<Map<string, string>> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const metadata = new Map<string, string>();
    let position = 0;
    const header = Buffer.alloc(20);
    while (position < size) {
      const { bytesRead } = await file.read(header, 0, header.length, position);
      let offset = 0;
      const tag = readVarint(header, offset, bytesRead);
      offset = tag.next;
      const field = Number(tag.value >> 3n);
      const wireType = Number(tag.value & 7n);
      if (field === 0) throw new OnnxFormatError('field number 0');
      let length: number;
      if (wireType === WIRE_VARINT) {
        length = readVarint(header, offset, bytesRead).next - offset;
      } else if (wireType === WIRE_FIXED64) {
        length = 8;
      } else if (wireType === WIRE_FIXED32) {
        length = 4;
      } else if (wireType === WIRE_LENGTH_DELIMITED) {
        const declared = readVarint(header, offset, bytesRead);
        offset = declared.next;
        length = Number(declared.value);
      } else {
        throw new OnnxFormatError(`unsupported wire type ${wireType}`);
      }
      const start = position + offset;
      if (start + length > size) throw new OnnxFormatError('a field runs past the end of the file');
      if (field === METADATA_FIELD && wireType === WIRE_LENGTH_DELIMITED) {
        if (length > MAX_ENTRY_BYTES) throw new OnnxFormatError('a metadata entry is implausibly large');
        const entry = Buffer.alloc(length);
        await file.read(entry, 0, length, start);
        const [key, value] = readStringEntry(entry);
        metadata.set(key, value);
      }
      position = start + length;
    }
    return metadata;
  } finally {
    await file.close();
  }
}

/** StringStringEntryProto: field 1 key, field 2 value. */
function readStringEntry(bytes: Buffer): [string, string] {
  let key = '';
  let value = '';
  let offset = 0;
  while (offset < bytes.length) {
    const tag = readVarint(bytes, offset, bytes.length);
    if (Number(tag.value & 7n) !== WIRE_LENGTH_DELIMITED) throw new OnnxFormatError('unexpected metadata entry field');
    const length = readVarint(bytes, tag.next, bytes.length);
    const end = length.next + Number(length.value);
    if (end > bytes.length) throw new OnnxFormatError('a metadata string runs past its entry');
    const text = bytes.toString('utf8', length.next, end);
    const field = Number(tag.value >> 3n);
    if (field === 1) key = text;
    else if (field === 2) value = text;
    offset = end;
  }
  return [key, value];
}

function readVarint(bytes: Buffer, start: number, end: number): { value: bigint; next: number } {
  let value = 0n;
  let shift = 0n;
  for (let offset = start; offset < end && offset < start + 10; offset++) {
    const byte = bytes[offset]!;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return { value, next: offset + 1 };
    shift += 7n;
  }
  throw new OnnxFormatError('truncated or overlong varint');
}
