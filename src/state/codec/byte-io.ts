// The primitives of the binary state format (src/state/codec/customer-codec.ts): LEB128 varints up to
// 2^53, zigzag for signed integers, little-endian fixed-width words, and strings that pack themselves
// when they are lowercase hex (slot ids, risk event ids: half the bytes). Kept here, small and
// allocation-light, because a customer is encoded on every write and decoded on every load.
import { ChurnflowError } from '../../errors.js';

const TWO_32 = 4294967296;
const HEX = /^(?:[0-9a-f]{2})+$/;
/** Strings up to this length take ByteWriter.str's hand-written path. */
const SHORT = 64;

/** The value of a lowercase hex digit's char code. */
function nibble(ch: number): number {
  return ch <= 57 ? ch - 48 : ch - 87;
}

export class ByteWriter {
  private buf: Buffer;
  private at = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Empties the writer, keeping its buffer (a writer reused across calls; finish() copies out). */
  reset(): void {
    this.at = 0;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.at++] = v;
  }

  /** An unsigned integer below 2^53 as LEB128 (1 byte below 128, 8 bytes at most). */
  uvarint(v: number): void {
    this.room(8);
    if (v < 128) {
      this.buf[this.at++] = v;
      return;
    }
    // Division, not shifts: JS bit operators truncate to 32 bits.
    while (v >= 128) {
      this.buf[this.at++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.at++] = v;
  }

  /** A signed integer with |v| < 2^52, zigzag-mapped so small negatives stay short. */
  svarint(v: number): void {
    this.uvarint(v < 0 ? -2 * v - 1 : 2 * v);
  }

  f64(v: number): void {
    this.room(8);
    this.buf.writeDoubleLE(v, this.at);
    this.at += 8;
  }

  f32(v: number): void {
    this.room(4);
    this.buf.writeFloatLE(v, this.at);
    this.at += 4;
  }

  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v, this.at);
    this.at += 4;
  }

  /** An unsigned integer below 2^53 in exactly 7 bytes (a hash: its varint would take 8). */
  u53(v: number): void {
    this.room(7);
    this.buf.writeUInt32LE(v % TWO_32, this.at);
    this.buf.writeUIntLE(Math.floor(v / TWO_32), this.at + 4, 3);
    this.at += 7;
  }

  /** Header varint (byte length × 2 + 1 if hex-packed), then the bytes. */
  str(s: string): void {
    const len = s.length;
    if (len <= SHORT) {
      // Short strings (slot ids, plan names, stream names) scanned by hand instead of the regular
      // expression, Buffer.byteLength and Buffer.write: the same bytes, no native calls.
      let hex = len >= 2 && len % 2 === 0;
      let ascii = true;
      for (let i = 0; i < len; i++) {
        const ch = s.charCodeAt(i);
        if (ch >= 128) {
          ascii = false;
          hex = false;
          break;
        }
        if (hex && !((ch >= 48 && ch <= 57) || (ch >= 97 && ch <= 102))) hex = false;
      }
      if (hex) {
        const n = len / 2;
        this.uvarint(n * 2 + 1);
        this.room(n);
        const buf = this.buf;
        let at = this.at;
        for (let i = 0; i < len; i += 2) buf[at++] = (nibble(s.charCodeAt(i)) << 4) | nibble(s.charCodeAt(i + 1));
        this.at = at;
        return;
      }
      if (ascii) {
        this.uvarint(len * 2);
        this.room(len);
        const buf = this.buf;
        let at = this.at;
        for (let i = 0; i < len; i++) buf[at++] = s.charCodeAt(i);
        this.at = at;
        return;
      }
    }
    if (len >= 2 && HEX.test(s)) {
      const n = len / 2;
      this.uvarint(n * 2 + 1);
      this.room(n);
      this.buf.write(s, this.at, 'hex');
      this.at += n;
      return;
    }
    const n = Buffer.byteLength(s);
    this.uvarint(n * 2);
    this.room(n);
    this.buf.write(s, this.at, 'utf8');
    this.at += n;
  }

  /** The indices of the set bits of `words` (uint32 each, at most 256 bits set), one byte each, lowest first. */
  bitIndices(words: readonly number[], count: number): void {
    this.room(count);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < words.length; i++) {
      // Lowest set bit first, then clear it: only the set bits are visited.
      for (let x = words[i]!; x !== 0; x = (x & (x - 1)) >>> 0) buf[at++] = i * 32 + 31 - Math.clz32(x & -x);
    }
    this.at = at;
  }

  /**
   * `count` unsigned integers below 2^width (width ≤ 49) packed LSB-first in ceil(count × width / 8)
   * bytes: a column of small numbers (counts of 1 or 2: 2 bits each) costs a fraction of a varint each.
   */
  packed(values: ArrayLike<number>, count: number, width: number): void {
    this.room(Math.ceil((count * width) / 8));
    // Locals, not this.buf / this.at: the loops stay tight (a state write packs hundreds of values).
    const buf = this.buf;
    let at = this.at;
    if (width <= 24) {
      // Fast path (counts, sums, times of the day): fewer than 8 bits pending + 24 fit in 32-bit operators.
      let acc = 0;
      let bits = 0;
      for (let i = 0; i < count; i++) {
        acc = (acc | (values[i]! << bits)) >>> 0;
        bits += width;
        while (bits >= 8) {
          buf[at++] = acc & 255;
          acc >>>= 8;
          bits -= 8;
        }
      }
      if (bits > 0) buf[at++] = acc;
      this.at = at;
      return;
    }
    // Wider (a time of the day: 27 bits): each value in chunks of at most 24 bits, low chunk first —
    // the same LSB-first bit stream, still in 32-bit operators (a value is below 2^width).
    let acc = 0;
    let bits = 0;
    for (let i = 0; i < count; i++) {
      let v = values[i]!;
      for (let left = width; left > 0; left -= 24) {
        let chunk = v;
        let n = left;
        if (left > 24) {
          n = 24;
          chunk = v % 16777216;
          v = (v - chunk) / 16777216;
        }
        acc = (acc | (chunk << bits)) >>> 0;
        bits += n;
        while (bits >= 8) {
          buf[at++] = acc & 255;
          acc >>>= 8;
          bits -= 8;
        }
      }
    }
    if (bits > 0) buf[at++] = acc;
    this.at = at;
  }

  /** A copy of what was written. */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.at));
  }
}

export class ByteReader {
  private at = 0;

  constructor(
    private readonly buf: Buffer,
    /** Names the customer in errors. */
    private readonly what: string,
  ) {}

  get done(): boolean {
    return this.at >= this.buf.length;
  }

  private need(n: number): void {
    if (this.at + n > this.buf.length) throw formatError(this.what, `truncated at byte ${this.at} of ${this.buf.length}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }

  /** The next byte, not consumed (undefined at the end). */
  peek(): number | undefined {
    return this.buf[this.at];
  }

  uvarint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      v += (b & 127) * scale;
      if (b < 128) return v;
      scale *= 128;
    }
    throw formatError(this.what, `varint longer than 8 bytes at byte ${this.at}`);
  }

  svarint(): number {
    const z = this.uvarint();
    return z % 2 === 1 ? -(z + 1) / 2 : z / 2;
  }

  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.at);
    this.at += 8;
    return v;
  }

  f32(): number {
    this.need(4);
    const v = this.buf.readFloatLE(this.at);
    this.at += 4;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }

  u53(): number {
    this.need(7);
    const v = this.buf.readUInt32LE(this.at) + this.buf.readUIntLE(this.at + 4, 3) * TWO_32;
    this.at += 7;
    return v;
  }

  /** What ByteWriter.packed wrote: `count` integers of `width` bits. */
  packed(count: number, width: number): number[] {
    this.need(Math.ceil((count * width) / 8));
    const out = new Array<number>(count);
    if (width <= 24) {
      const mask = width === 0 ? 0 : 0xffffffff >>> (32 - width);
      const buf = this.buf;
      let at = this.at;
      let acc = 0;
      let bits = 0;
      for (let i = 0; i < count; i++) {
        while (bits < width) {
          acc = (acc | (buf[at++]! << bits)) >>> 0;
          bits += 8;
        }
        out[i] = (acc & mask) >>> 0;
        acc >>>= width;
        bits -= width;
      }
      this.at = at;
      return out;
    }
    // Wider: each value in chunks of at most 24 bits, low chunk first (what the writer packed), in
    // 32-bit operators: fewer than 8 bits pending + 24 stay below 2^32.
    const buf = this.buf;
    let at = this.at;
    let acc = 0;
    let bits = 0;
    for (let i = 0; i < count; i++) {
      let v = 0;
      for (let done = 0; done < width; done += 24) {
        const n = width - done < 24 ? width - done : 24;
        while (bits < n) {
          acc = (acc | (buf[at++]! << bits)) >>> 0;
          bits += 8;
        }
        const chunk = n === 24 ? acc & 0xffffff : (acc & (0xffffff >>> (24 - n))) >>> 0;
        acc >>>= n;
        bits -= n;
        v += chunk * (done === 0 ? 1 : done === 24 ? 16777216 : 281474976710656);
      }
      out[i] = v;
    }
    this.at = at;
    return out;
  }

  str(): string {
    const h = this.uvarint();
    const n = Math.floor(h / 2);
    this.need(n);
    const s = this.buf.toString(h % 2 === 1 ? 'hex' : 'utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }
}

/** A stored state this engine cannot read (corrupt, or written by a newer format version). */
export function formatError(what: string, problem: string): ChurnflowError {
  return new ChurnflowError(
    'CF_STATE_FORMAT',
    `${what}: stored state cannot be decoded (${problem}); rebuild the state by replaying the activity topic from Kafka (docs/operations: docs/architecture.md "Stored format and rebuild")`,
    { retriable: false },
  );
}
