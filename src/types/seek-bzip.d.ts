// The parts of seek-bzip 2.0.0 (pinned exactly) that src/models/bunzip2.ts drives block by block.
declare module 'seek-bzip' {
  interface ByteInput {
    readByte(): number;
    read(buffer: Uint8Array, offset: number, length: number): number;
    eof(): boolean;
  }
  interface ByteOutput {
    writeByte(byte: number): void;
  }
  class Bunzip {
    constructor(input: ByteInput, output: ByteOutput);
    streamCRC: number;
    reader: { read(bits: number): number };
    _init_block(): boolean;
    _read_bunzip(): number;
    _start_bunzip(input: ByteInput, output: ByteOutput): void;
  }
  export default Bunzip;
}
