/**
 * MS-PSRP 2.2.4 Packet Fragment: a big-endian header (ObjectId u64, FragmentId u64, Flags u8, BlobLength u32)
 * followed by the blob. Messages are split into fragments to send; fragments are reassembled on receipt.
 * Sans-IO: bytes in, bytes out.
 */
import { LocalProtocolError, RemoteProtocolError } from '../errors.js';
import { concatBytes } from '../util/bytes.js';

/** MS-PSRP 2.2.4: the fragment header is 21 bytes. */
export const FRAGMENT_HEADER_SIZE = 21;
/** The smallest maximum fragment size we accept: a header and one byte of blob. */
export const MIN_FRAGMENT_SIZE = FRAGMENT_HEADER_SIZE + 1;
/** OutOfProc and PowerShell's own default (BaseTransportManager.DefaultFragmentSize). */
export const DEFAULT_FRAGMENT_SIZE = 32 * 1024;

/** MS-PSRP 2.2.4 fragment flags. */
export const enum FragmentFlags {
  /** S: first fragment of a message. */
  Start = 0x1,
  /** E: last fragment of a message. */
  End = 0x2,
}

/** MS-PSRP 2.2.4 Packet Fragment. */
export interface Fragment {
  objectId: bigint;
  fragmentId: bigint;
  start: boolean;
  end: boolean;
  blob: Uint8Array;
}

/** MS-PSRP 2.2.4: encode one fragment. */
export function encodeFragment(f: Fragment): Uint8Array {
  const out = new Uint8Array(FRAGMENT_HEADER_SIZE + f.blob.length);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, f.objectId, false);
  dv.setBigUint64(8, f.fragmentId, false);
  dv.setUint8(16, (f.start ? FragmentFlags.Start : 0) | (f.end ? FragmentFlags.End : 0));
  dv.setUint32(17, f.blob.length, false);
  out.set(f.blob, FRAGMENT_HEADER_SIZE);
  return out;
}

/**
 * MS-PSRP 2.2.4: decode every fragment in a buffer that holds whole fragments only
 * (creationXml, rsp:Stream, rsp:Arguments). Throws RemoteProtocolError on a truncated or bad fragment.
 */
export function decodeFragments(data: Uint8Array, maxBlob = 0x7fffffff): Fragment[] {
  const r = new FragmentReader({ maxBlob });
  const out = r.push(data);
  if (r.buffered > 0) {
    throw new RemoteProtocolError(`PSRP fragment truncated: ${r.buffered} trailing byte(s) do not form a whole fragment (MS-PSRP 2.2.4)`);
  }
  return out;
}

/**
 * Streaming fragment parser: accepts bytes split at any point and yields whole fragments.
 * Memory is bounded by `maxBlob` (a blob larger than that is refused, not buffered).
 */
export class FragmentReader {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private readonly maxBlob: number;
  private readonly views: boolean;
  /**
   * `views`: the blob of a whole message (Start and End in one fragment) is a view of the bytes pushed rather than a
   * copy, for a caller that is done with it before the pushed bytes change (the pool decodes it at once).
   */
  constructor(opts: { maxBlob?: number; views?: boolean } = {}) {
    this.maxBlob = opts.maxBlob ?? 0x7fffffff;
    this.views = opts.views ?? false;
  }
  /** Bytes held that do not yet form a whole fragment. */
  get buffered(): number {
    return this.size;
  }

  push(data: Uint8Array): Fragment[] {
    if (data.length) {
      this.chunks.push(data);
      this.size += data.length;
    }
    const out: Fragment[] = [];
    if (this.size < FRAGMENT_HEADER_SIZE) return out;
    // one pass over the joined bytes: every whole fragment in them, then the rest kept (one view, not one per fragment)
    const buf = this.flatten();
    let off = 0;
    while (buf.length - off >= FRAGMENT_HEADER_SIZE) {
      const flags = buf[off + 16]!;
      if (flags & ~0x3)
        throw new RemoteProtocolError(
          `PSRP fragment has unknown flag bits 0x${flags.toString(16)} (MS-PSRP 2.2.4); the peer is not speaking PSRP or the ` +
            `stream is corrupt`,
        );
      const len = ((buf[off + 17]! << 24) | (buf[off + 18]! << 16) | (buf[off + 19]! << 8) | buf[off + 20]!) >>> 0;
      if (len > this.maxBlob)
        throw new RemoteProtocolError(
          `PSRP fragment blob of ${len} bytes exceeds the limit of ${this.maxBlob} (MS-PSRP 2.2.4); raise maxMessageSize if ` +
            `this peer is trusted`,
        );
      if (buf.length - off < FRAGMENT_HEADER_SIZE + len) break;
      const a = off + FRAGMENT_HEADER_SIZE;
      out.push({
        objectId: u64be(buf, off),
        fragmentId: u64be(buf, off + 8),
        start: (flags & FragmentFlags.Start) !== 0,
        end: (flags & FragmentFlags.End) !== 0,
        blob: this.views && (flags & 3) === 3 ? buf.subarray(a, a + len) : buf.slice(a, a + len),
      });
      off += FRAGMENT_HEADER_SIZE + len;
    }
    if (off) {
      const rest = buf.subarray(off);
      this.chunks = rest.length ? [rest] : [];
      this.size = rest.length;
    }
    return out;
  }

  private flatten(): Uint8Array {
    if (this.chunks.length > 1) this.chunks = [concatBytes(...this.chunks)];
    return this.chunks[0]!;
  }
}

/** The big-endian u64 at b[off]: a small one (every id in practice) without the DataView and 64-bit read. */
function u64be(b: Uint8Array, off: number): bigint {
  const hi = ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
  const lo = ((b[off + 4]! << 24) | (b[off + 5]! << 16) | (b[off + 6]! << 8) | b[off + 7]!) >>> 0;
  return hi < 0x200000 ? BigInt(hi * 0x100000000 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * MS-PSRP 3.1.5.4.1 reassembly: fragments of one message arrive in order (FragmentId 0 with Start ... End).
 * Keeps at most `maxPending` partial messages and at most `maxMessageSize` bytes per message.
 */
export class Defragmenter {
  private pending = new Map<bigint, { next: bigint; parts: Uint8Array[]; size: number }>();
  readonly maxMessageSize: number;
  readonly maxPending: number;
  constructor(opts: { maxMessageSize?: number; maxPending?: number } = {}) {
    this.maxMessageSize = opts.maxMessageSize ?? 256 * 1024 * 1024;
    this.maxPending = opts.maxPending ?? 64;
  }

  /** Feed one fragment; returns the whole message blob when this fragment completes it. */
  add(f: Fragment): Uint8Array | undefined {
    if (f.start) {
      if (f.fragmentId !== 0n)
        throw new RemoteProtocolError(
          `PSRP fragment ${f.fragmentId} of object ${f.objectId} has the Start flag but FragmentId is not 0 (MS-PSRP 2.2.4)`,
        );
      if (this.pending.size && this.pending.has(f.objectId))
        throw new RemoteProtocolError(`PSRP object ${f.objectId} started twice before it ended (MS-PSRP 2.2.4)`);
      if (f.end) {
        if (f.blob.length > this.maxMessageSize) throw this.tooBig(f.objectId);
        return f.blob;
      }
      if (this.pending.size >= this.maxPending)
        throw new RemoteProtocolError(`more than ${this.maxPending} PSRP messages are partially received at once; the peer is misbehaving`);
      if (f.blob.length > this.maxMessageSize) throw this.tooBig(f.objectId);
      this.pending.set(f.objectId, { next: 1n, parts: [f.blob], size: f.blob.length });
      return undefined;
    }
    const p = this.pending.get(f.objectId);
    if (!p)
      throw new RemoteProtocolError(
        `PSRP fragment ${f.fragmentId} of object ${f.objectId} arrived without its start fragment (MS-PSRP 2.2.4)`,
      );
    if (f.fragmentId !== p.next)
      throw new RemoteProtocolError(
        `PSRP fragment ${f.fragmentId} of object ${f.objectId} is out of order (expected ${p.next}) (MS-PSRP 2.2.4)`,
      );
    p.size += f.blob.length;
    if (p.size > this.maxMessageSize) {
      this.pending.delete(f.objectId);
      throw this.tooBig(f.objectId);
    }
    p.parts.push(f.blob);
    p.next++;
    if (!f.end) return undefined;
    this.pending.delete(f.objectId);
    return concatBytes(...p.parts);
  }

  private tooBig(id: bigint): RemoteProtocolError {
    return new RemoteProtocolError(
      `PSRP object ${id} is larger than the limit of ${this.maxMessageSize} bytes; raise maxMessageSize if this is expected`,
    );
  }
}

/** MS-PSRP 3.1.4.1 fragmenting: splits one message into fragments whose encoded size is at most `maxSize`. */
export function fragmentMessage(objectId: bigint, message: Uint8Array, maxSize = DEFAULT_FRAGMENT_SIZE): Fragment[] {
  if (!Number.isInteger(maxSize) || maxSize < MIN_FRAGMENT_SIZE) {
    throw new LocalProtocolError(`maximum fragment size ${maxSize} is below the minimum of ${MIN_FRAGMENT_SIZE} bytes`);
  }
  const room = maxSize - FRAGMENT_HEADER_SIZE;
  const out: Fragment[] = [];
  let off = 0;
  let id = 0n;
  do {
    const blob = message.subarray(off, off + room);
    off += blob.length;
    out.push({ objectId, fragmentId: id++, start: id === 1n, end: off >= message.length, blob });
  } while (off < message.length);
  return out;
}
