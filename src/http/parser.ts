/**
 * A small sans-IO HTTP/1.1 response parser (RFC 9112): feed bytes, get complete responses. Bounded: header block
 * <= 64 KiB, body <= maxBody. Content-Length and chunked bodies; "until close" bodies finish on `end()`.
 * Used by src/http/transport.ts (one keep-alive connection, one request in flight at a time).
 *
 * Memory (what streaming costs most on a VM: every page of fresh memory is a page fault): `feed` never keeps a
 * reference to the chunk it was given (the transport reads the socket into one reused buffer), and a body of known
 * length is read into a buffer from a BodyPool, which the consumer hands back with `pool.give(body)` when done.
 */
import { RemoteProtocolError } from '../errors.js';

/**
 * Reusable body buffers: `take(n)` returns an n-byte buffer (a kept one when one is large enough, else a new one of
 * its own ArrayBuffer); `give(view)` takes back a buffer `take` handed out (any view of it; others are ignored, and so
 * is a second give) for a later `take`. At most `maxKept` buffers of at most `maxSize` bytes are kept. Whoever gives
 * a buffer back must hold no view of it any more.
 */
export class BodyPool {
  private readonly kept: ArrayBuffer[] = [];
  private readonly lent = new WeakSet<ArrayBufferLike>();
  constructor(
    private readonly maxKept = 2,
    private readonly maxSize = 4 * 1024 * 1024,
  ) {}

  take(n: number): Buffer {
    let ab: ArrayBuffer | undefined;
    if (n <= this.maxSize) {
      // the smallest kept buffer that fits
      let best = -1;
      for (let i = 0; i < this.kept.length; i++)
        if (this.kept[i]!.byteLength >= n && (best < 0 || this.kept[i]!.byteLength < this.kept[best]!.byteLength)) best = i;
      if (best >= 0) ab = this.kept.splice(best, 1)[0];
    }
    // room for replies of about this size: rounded up to 64 KiB
    ab ??= Buffer.allocUnsafeSlow(n <= this.maxSize ? Math.min(this.maxSize, Math.ceil(n / 65536) * 65536) : n).buffer as ArrayBuffer;
    this.lent.add(ab);
    return Buffer.from(ab, 0, n);
  }

  give(view: Uint8Array): void {
    const ab = view.buffer;
    if (!this.lent.has(ab)) return;
    this.lent.delete(ab);
    if (ab.byteLength > this.maxSize) return;
    if (this.kept.length >= this.maxKept) this.kept.shift();
    this.kept.push(ab as ArrayBuffer);
  }
}

export interface HttpResponse {
  status: number;
  reason: string;
  /** header names lower-cased; repeated headers keep every value in order */
  headers: Map<string, string[]>;
  body: Uint8Array;
  /** the server asked to close the connection after this response */
  close: boolean;
}

export function header(res: { headers: Map<string, string[]> }, name: string): string | undefined {
  return res.headers.get(name.toLowerCase())?.[0];
}

const MAX_HEADER = 64 * 1024;
const EMPTY = Buffer.alloc(0);
const PREALLOC_MAX = 16 * 1024 * 1024;

type State =
  | { k: 'head' }
  | { k: 'length'; remaining: number }
  | { k: 'chunk-size' }
  | { k: 'chunk-data'; remaining: number }
  | { k: 'chunk-crlf' }
  | { k: 'trailers' }
  | { k: 'until-close' };

export class HttpResponseParser {
  private buf: Buffer = EMPTY;
  private state: State = { k: 'head' };
  private cur: Omit<HttpResponse, 'body'> | undefined;
  private bodyParts: Buffer[] = [];
  private bodyLen = 0;
  /** the body's buffer when its length is known up front (Content-Length): chunks are copied in as they arrive */
  private fixed: Buffer | undefined;
  constructor(
    private readonly maxBody = 256 * 1024 * 1024,
    private readonly pool?: BodyPool,
  ) {}

  /**
   * Feed bytes; returns the responses completed by them. The chunk may be reused by the caller afterwards: what is
   * kept of it (a partial header, a body part) is copied.
   */
  feed(chunk: Uint8Array): HttpResponse[] {
    const c = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const carried = this.buf.length > 0;
    this.buf = carried ? Buffer.concat([this.buf, c]) : c;
    const out: HttpResponse[] = [];
    for (;;) {
      const r = this.advance();
      if (r === 'more') break;
      if (r) out.push(r);
    }
    // a rest still pointing into the caller's chunk is copied (small: a partial header or chunk-size line)
    if (!carried && this.buf.length) this.buf = Buffer.from(this.buf);
    return out;
  }

  /** The peer closed the connection: completes an "until close" body, else reports truncation. */
  end(): HttpResponse | undefined {
    if (this.state.k === 'until-close' && this.cur) return this.finish();
    if (this.state.k === 'head' && this.buf.length === 0 && !this.cur) return undefined;
    throw new RemoteProtocolError('the server closed the connection in the middle of an HTTP response');
  }

  /**
   * Where the next socket read may go: the rest of a body of known length, so the bytes land in its buffer without a
   * copy (`feed` then recognises them in place); undefined when a read may hold anything (a header, a chunked body).
   */
  readTarget(): Buffer | undefined {
    if (this.state.k !== 'length' || !this.fixed || this.buf.length) return undefined;
    return this.fixed.subarray(this.bodyLen, this.bodyLen + this.state.remaining);
  }

  /** true when no partial response is buffered */
  get idle(): boolean {
    return this.state.k === 'head' && this.buf.length === 0;
  }

  private pushBody(b: Buffer): void {
    if (this.fixed) {
      // read straight into place (readTarget): nothing to copy
      if (b.buffer !== this.fixed.buffer || b.byteOffset !== this.fixed.byteOffset + this.bodyLen) b.copy(this.fixed, this.bodyLen);
      this.bodyLen += b.length;
      return;
    } // bounded by Content-Length
    this.bodyLen += b.length;
    if (this.bodyLen > this.maxBody) throw new RemoteProtocolError(`HTTP response body larger than ${this.maxBody} bytes`);
    this.bodyParts.push(Buffer.from(b)); // a copy: `b` may point into the caller's reused chunk
  }

  private finish(): HttpResponse {
    const body = this.fixed ?? (this.bodyParts.length === 1 ? this.bodyParts[0]! : Buffer.concat(this.bodyParts, this.bodyLen));
    const res: HttpResponse = { ...this.cur!, body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) };
    this.cur = undefined;
    this.bodyParts = [];
    this.bodyLen = 0;
    this.fixed = undefined;
    this.state = { k: 'head' };
    return res;
  }

  private advance(): HttpResponse | 'more' | null {
    const s = this.state;
    switch (s.k) {
      case 'head': {
        // a TLS record (alert 0x15 / handshake 0x16, version 3.x) where an HTTP status line belongs: an HTTPS port
        if (this.buf.length >= 2 && (this.buf[0] === 0x15 || this.buf[0] === 0x16) && this.buf[1] === 0x03) {
          throw new RemoteProtocolError(
            'the server answered with TLS, not HTTP: this port speaks HTTPS; add --https (WinRM over HTTPS listens on 5986)',
          );
        }
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.buf.length > MAX_HEADER) throw new RemoteProtocolError('HTTP response header block larger than 64 KiB');
          return 'more';
        }
        if (end > MAX_HEADER) throw new RemoteProtocolError('HTTP response header block larger than 64 KiB');
        const head = this.buf.subarray(0, end).toString('latin1');
        this.buf = this.buf.subarray(end + 4);
        const lines = head.split('\r\n');
        const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]!);
        if (!m)
          throw new RemoteProtocolError(
            `not an HTTP/1.x response: ${JSON.stringify(lines[0]!.slice(0, 60))} (is this port a WinRM endpoint?)`,
          );
        const headers = new Map<string, string[]>();
        for (const line of lines.slice(1)) {
          const c = line.indexOf(':');
          if (c <= 0) throw new RemoteProtocolError(`malformed HTTP header line: ${JSON.stringify(line.slice(0, 60))}`);
          const k = line.slice(0, c).trim().toLowerCase();
          const v = line.slice(c + 1).trim();
          const arr = headers.get(k);
          if (arr) arr.push(v);
          else headers.set(k, [v]);
        }
        const status = Number(m[2]);
        const connHdr = (headers.get('connection') ?? []).join(',').toLowerCase();
        const close = m[1] === '0' ? !connHdr.includes('keep-alive') : connHdr.includes('close');
        this.cur = { status, reason: m[3] ?? '', headers, close };
        const te = (headers.get('transfer-encoding') ?? []).join(',').toLowerCase();
        const cl = headers.get('content-length');
        if (status < 200 || status === 204 || status === 304) {
          if (status < 200) {
            this.cur = undefined;
            return null;
          } // 1xx: skip
          return this.finish();
        }
        if (te.includes('chunked')) this.state = { k: 'chunk-size' };
        else if (cl) {
          if (new Set(cl).size !== 1 || !/^\d{1,15}$/.test(cl[0]!))
            throw new RemoteProtocolError(`bad Content-Length: ${cl.join(',').slice(0, 40)}`);
          const n = Number(cl[0]);
          if (n > this.maxBody) throw new RemoteProtocolError(`HTTP response body of ${n} bytes exceeds the limit of ${this.maxBody}`);
          if (n === 0) return this.finish();
          this.state = { k: 'length', remaining: n };
        } else {
          this.state = { k: 'until-close' };
          this.cur.close = true;
        }
        return null;
      }
      case 'length': {
        if (!this.buf.length) return 'more';
        // one buffer of the announced size, allocated when the first body bytes are there (a header alone reserves
        // nothing) and only up to 16 MiB; larger bodies are joined at the end
        if (!this.fixed && !this.bodyLen && s.remaining <= PREALLOC_MAX)
          this.fixed = this.pool ? this.pool.take(s.remaining) : Buffer.allocUnsafe(s.remaining);
        const take = Math.min(s.remaining, this.buf.length);
        this.pushBody(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        s.remaining -= take;
        return s.remaining === 0 ? this.finish() : 'more';
      }
      case 'chunk-size': {
        const e = this.buf.indexOf('\r\n');
        if (e < 0) {
          if (this.buf.length > 1024) throw new RemoteProtocolError('HTTP chunk size line too long');
          return 'more';
        }
        const line = this.buf.subarray(0, e).toString('latin1').split(';')[0]!.trim();
        if (!/^[0-9a-fA-F]{1,8}$/.test(line)) throw new RemoteProtocolError(`bad HTTP chunk size: ${JSON.stringify(line.slice(0, 20))}`);
        this.buf = this.buf.subarray(e + 2);
        const n = parseInt(line, 16);
        this.state = n === 0 ? { k: 'trailers' } : { k: 'chunk-data', remaining: n };
        return null;
      }
      case 'chunk-data': {
        if (!this.buf.length) return 'more';
        const take = Math.min(s.remaining, this.buf.length);
        this.pushBody(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        s.remaining -= take;
        if (s.remaining === 0) this.state = { k: 'chunk-crlf' };
        return null;
      }
      case 'chunk-crlf': {
        if (this.buf.length < 2) return 'more';
        if (this.buf[0] !== 0x0d || this.buf[1] !== 0x0a) throw new RemoteProtocolError('HTTP chunk not followed by CRLF');
        this.buf = this.buf.subarray(2);
        this.state = { k: 'chunk-size' };
        return null;
      }
      case 'trailers': {
        const e = this.buf.indexOf('\r\n');
        if (e < 0) {
          if (this.buf.length > MAX_HEADER) throw new RemoteProtocolError('HTTP trailers too long');
          return 'more';
        }
        this.buf = this.buf.subarray(e + 2);
        if (e === 0) return this.finish();
        return null;
      }
      case 'until-close': {
        if (!this.buf.length) return 'more';
        this.pushBody(this.buf);
        this.buf = EMPTY;
        return 'more';
      }
    }
  }
}
