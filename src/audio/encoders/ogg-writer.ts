/**
 * A minimal Ogg page writer (RFC 3533) for a single logical stream. Packets are queued with the
 * granule position reached at their end; `flush` turns the queue into pages.
 */

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

/** Ogg's CRC-32: polynomial 0x04c11db7, not reflected, initial value 0, no final xor. */
export function oggCrc32(bytes: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ bytes[i]!) & 0xff]!) >>> 0;
  return crc >>> 0;
}

const FLAG_CONTINUED = 0x01;
const FLAG_BOS = 0x02;
const FLAG_EOS = 0x04;
const MAX_SEGMENTS = 255;

interface QueuedPacket {
  readonly data: Uint8Array;
  /** Granule position after this packet; -1 means none (the packet does not end a granule). */
  readonly granule: bigint;
}

export class OggWriter {
  private readonly serial: number;
  private sequence = 0;
  private queue: QueuedPacket[] = [];
  private bosWritten = false;
  private eosWritten = false;

  constructor(serial: number) {
    this.serial = serial >>> 0;
  }

  get ended(): boolean {
    return this.eosWritten;
  }

  /** Queues one packet. `granule` is the stream position once this packet is decoded. */
  addPacket(data: Uint8Array, granule: bigint): void {
    if (this.eosWritten) throw new Error('ogg: packet after end of stream');
    this.queue.push({ data, granule });
  }

  get pendingPackets(): number {
    return this.queue.length;
  }

  /**
   * Writes every queued packet into pages and returns their bytes. With `eos` the last page gets
   * the end-of-stream flag (an empty page is written if nothing is queued).
   */
  flush(eos = false): Uint8Array {
    const pages: Uint8Array[] = [];
    const packets = this.queue;
    this.queue = [];
    // Segment every packet into lacing values, then cut into pages of at most 255 segments.
    let index = 0;
    let offsetInPacket = 0; // bytes of packets[index] already written (for continued packets)
    if (packets.length === 0 && eos && !this.eosWritten) {
      pages.push(this.page([], [], FLAG_EOS | (this.bosWritten ? 0 : FLAG_BOS), -1n));
      this.bosWritten = true;
      this.eosWritten = true;
    }
    while (index < packets.length) {
      const lacing: number[] = [];
      const bodies: Uint8Array[] = [];
      let granule = -1n;
      let flags = offsetInPacket > 0 ? FLAG_CONTINUED : 0;
      while (index < packets.length && lacing.length < MAX_SEGMENTS) {
        const packet = packets[index]!;
        const remaining = packet.data.length - offsetInPacket;
        const fullSegments = Math.floor(remaining / 255);
        const segmentsNeeded = fullSegments + 1; // final segment < 255 (possibly 0) ends the packet
        const room = MAX_SEGMENTS - lacing.length;
        if (segmentsNeeded <= room) {
          for (let s = 0; s < fullSegments; s++) lacing.push(255);
          lacing.push(remaining - fullSegments * 255);
          bodies.push(packet.data.subarray(offsetInPacket));
          granule = packet.granule;
          offsetInPacket = 0;
          index++;
        } else {
          // Spill: fill this page with 255-byte segments; the packet continues on the next page.
          for (let s = 0; s < room; s++) lacing.push(255);
          bodies.push(packet.data.subarray(offsetInPacket, offsetInPacket + room * 255));
          offsetInPacket += room * 255;
          break;
        }
      }
      if (!this.bosWritten) {
        flags |= FLAG_BOS;
        this.bosWritten = true;
      }
      const last = index >= packets.length;
      if (eos && last) {
        flags |= FLAG_EOS;
        this.eosWritten = true;
      }
      pages.push(this.page(lacing, bodies, flags, granule));
    }
    if (pages.length === 1) return pages[0]!;
    let total = 0;
    for (const p of pages) total += p.length;
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of pages) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  private page(lacing: number[], bodies: Uint8Array[], flags: number, granule: bigint): Uint8Array {
    let bodyLength = 0;
    for (const b of bodies) bodyLength += b.length;
    const headerLength = 27 + lacing.length;
    const page = new Uint8Array(headerLength + bodyLength);
    const view = new DataView(page.buffer);
    page[0] = 0x4f; // O
    page[1] = 0x67; // g
    page[2] = 0x67; // g
    page[3] = 0x53; // S
    page[4] = 0; // version
    page[5] = flags;
    view.setBigInt64(6, granule, true);
    view.setUint32(14, this.serial, true);
    view.setUint32(18, this.sequence++, true);
    view.setUint32(22, 0, true);
    page[26] = lacing.length;
    for (let i = 0; i < lacing.length; i++) page[27 + i] = lacing[i]!;
    let o = headerLength;
    for (const b of bodies) {
      page.set(b, o);
      o += b.length;
    }
    view.setUint32(22, oggCrc32(page), true);
    return page;
  }
}
