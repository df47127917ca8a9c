/**
 * copy (Copy-Item -ToSession): local files, directories or a stream → the remote host, over one PSRP pipeline per
 * segment (scripts.ts UPLOAD). Chunks fit one envelope; up to `window` chunks are in flight, acknowledged by the
 * remote's running byte count, so both ends hold a bounded amount whatever the file size. The local SHA-256 of the
 * bytes read is compared with the remote SHA-256 of the bytes written (computed as they are written) before the
 * atomic rename.
 *
 * Resume: the first pipeline first answers where each file goes and its partial file (length, SHA-256); when the
 * local file's prefix of that length has the same hash, the transfer continues from there. No separate round trip:
 * the chunks follow in the same pipeline as soon as that answer is in.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InvalidArgumentError, LocalProtocolError } from '../errors.js';
import type { ClixmlValue, PSValue } from '../clixml/index.js';
import { PSInvocationState } from '../psrp/state.js';
import { localTransferError, transferError } from './errors.js';
import { hashLocalFile } from './hash.js';
import { ProgressTracker, type ProgressListener } from './progress.js';
import { chunkSizeFor, numberOf, recordOf, scriptFailure, Signal, type TransferSession } from './remote.js';
import { UPLOAD } from './scripts.js';

export interface TransferOptions {
  /** continue from a partial file whose prefix hash matches (default true); false starts every file over */
  resume?: boolean;
  /** abort = stop the remote pipeline and reject with AbortError (or the signal's reason, e.g. a TimeoutError) */
  signal?: AbortSignal;
  /** progress events (start, file, progress, file-done, restart) */
  onProgress?: ProgressListener;
  /** bytes per chunk (default: fitted to the transport's envelope / fragment size) */
  chunkSize?: number;
  /** chunks in flight (default 8) */
  window?: number;
}

export interface CopyOptions extends TransferOptions {
  /** stream sources: the file mode to give the remote file (Unix hosts) */
  mode?: number;
  /** bytes of file data per pipeline before a new one is started (default 24 MiB; Windows limits input per command) */
  segmentBytes?: number;
}

export interface TransferredFile {
  local: string;
  remote: string;
  bytes: number;
  sha256: string;
  resumedFrom: number;
}
export interface TransferResult {
  files: TransferredFile[];
  directories: number;
  /** bytes of all files (resumed ones included) */
  bytes: number;
  /** bytes moved over the connection by this run */
  movedBytes: number;
  seconds: number;
  bytesPerSecond: number;
}

/** What can be copied: local paths (files or directories), or the bytes of one file as a stream or buffer. */
export type CopySource = string | string[] | AsyncIterable<Uint8Array> | Uint8Array;

interface LocalFile {
  local: string;
  rel: string;
  size: number | undefined;
  mode: number | undefined;
  stream?: AsyncIterable<Uint8Array>;
}
interface UploadJob extends LocalFile {
  remote: string;
  offset: number;
  hash: Hash;
  resumedFrom: number;
}

const DEFAULT_SEGMENT = 24 * 1024 * 1024;

function isStreamSource(s: CopySource): s is AsyncIterable<Uint8Array> | Uint8Array {
  return s instanceof Uint8Array || (typeof s === 'object' && s !== null && !Array.isArray(s) && Symbol.asyncIterator in s);
}

/** Files and directories under `dir` (relative, '/'-separated), sorted; symbolic links to directories are not followed. */
async function walk(dir: string, rel: string, files: LocalFile[], dirs: Array<{ rel: string; mode: number }>): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw localTransferError(e, dir);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const d of entries) {
    const full = join(dir, d.name);
    const r = rel ? `${rel}/${d.name}` : d.name;
    let isDir = d.isDirectory();
    let isFile = d.isFile();
    let st;
    if (d.isSymbolicLink()) {
      try {
        st = await stat(full);
      } catch {
        continue;
      } // a dangling link: nothing to copy
      isDir = false;
      isFile = st.isFile(); // links to directories are not followed (no cycles)
    }
    if (isDir) {
      const s = await stat(full).catch((e) => {
        throw localTransferError(e, full);
      });
      dirs.push({ rel: r, mode: s.mode & 0o7777 });
      await walk(full, r, files, dirs);
    } else if (isFile) {
      st ??= await stat(full).catch((e) => {
        throw localTransferError(e, full);
      });
      files.push({ local: full, rel: r, size: st.size, mode: st.mode & 0o7777 });
    }
  }
}

/** Plan the copy of local paths: the layout the remote side resolves (cp semantics) and every file and directory. */
async function planLocal(
  paths: string[],
): Promise<{ layout: 'file' | 'dir' | 'multi'; names: string[]; files: LocalFile[]; dirs: Array<{ rel: string; mode: number }> }> {
  if (!paths.length) throw new InvalidArgumentError('nothing to copy: give at least one local path');
  const files: LocalFile[] = [];
  const dirs: Array<{ rel: string; mode: number }> = [];
  const names = new Set<string>();
  const kinds: Array<'file' | 'dir'> = [];
  for (const p of paths) {
    const full = resolve(p);
    let st;
    try {
      st = await stat(full);
    } catch (e) {
      throw localTransferError(e, p);
    }
    const name = basename(full);
    if (paths.length > 1) {
      if (names.has(name)) throw new InvalidArgumentError(`two sources are named '${name}': they would land on the same remote path`);
      names.add(name);
    }
    if (st.isDirectory()) {
      kinds.push('dir');
      const top = paths.length > 1 ? name : '';
      dirs.push({ rel: top, mode: st.mode & 0o7777 });
      await walk(full, top, files, dirs);
    } else if (st.isFile()) {
      kinds.push('file');
      files.push({ local: full, rel: name, size: st.size, mode: st.mode & 0o7777 });
    } else throw transferError('local', 'io', p, 'not a regular file or directory');
  }
  const layout = paths.length > 1 ? 'multi' : kinds[0]!;
  return { layout, names: paths.map((p) => basename(resolve(p))), files, dirs };
}

/** Hash the first `n` bytes of a local file; returns the hex digest and the hash object to continue with. */
async function hashPrefix(path: string, n: number): Promise<{ hex: string; hash: Hash }> {
  const { hash, bytes } = await hashLocalFile(path, n);
  if (bytes < n) throw transferError('local', 'changed', path, 'the file is shorter than the partial remote file');
  return { hex: hash.copy().digest('hex'), hash };
}

/** Re-chunk a byte stream into pieces of `size` bytes (the last may be shorter). */
async function* rechunk(src: AsyncIterable<Uint8Array> | Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  if (src instanceof Uint8Array) {
    for (let o = 0; o < src.length; o += size) yield src.subarray(o, Math.min(src.length, o + size));
    return;
  }
  let pend: Uint8Array[] = [];
  let n = 0;
  for await (const c0 of src) {
    let c = typeof c0 === 'string' ? new TextEncoder().encode(c0) : c0;
    while (c.length) {
      const take = Math.min(size - n, c.length);
      pend.push(c.subarray(0, take));
      n += take;
      c = c.subarray(take);
      if (n === size) {
        yield pend.length === 1 ? pend[0]! : Buffer.concat(pend);
        pend = [];
        n = 0;
      }
    }
  }
  if (n) yield pend.length === 1 ? pend[0]! : Buffer.concat(pend);
}

/** Copy local files / directories, or a stream, to `remote` (cp semantics: into it when it is a directory). */
export async function copyToRemote(
  session: TransferSession,
  source: CopySource,
  remote: string,
  opts: CopyOptions = {},
): Promise<TransferResult> {
  if (typeof remote !== 'string' || !remote) throw new InvalidArgumentError('give the remote path to copy to');
  const signal = opts.signal;
  const resume = opts.resume !== false;
  let layout: 'file' | 'dir' | 'multi' | 'stream';
  let names: string[];
  let files: LocalFile[];
  let dirs: Array<{ rel: string; mode: number }>;
  if (isStreamSource(source)) {
    layout = 'stream';
    names = [''];
    dirs = [];
    files = [
      {
        local: '-',
        rel: '',
        size: source instanceof Uint8Array ? source.length : undefined,
        mode: opts.mode,
        stream: source instanceof Uint8Array ? undefined : source,
      },
    ];
    if (source instanceof Uint8Array)
      files[0]!.stream = (async function* () {
        yield source;
      })();
  } else {
    ({ layout, names, files, dirs } = await planLocal(Array.isArray(source) ? source : [source]));
  }

  const totalBytes = files.every((f) => f.size !== undefined) ? files.reduce((a, f) => a + f.size!, 0) : undefined;
  const progress = new ProgressTracker('copy', totalBytes, files.length, opts.onProgress);
  const up = new Uploader(
    session,
    files,
    dirs,
    {
      Prepare: true,
      Target: remote,
      Layout: layout,
      Names: names,
      Rels: files.map((f) => f.rel),
      Dirs: dirs.map((d) => d.rel),
      Resume: resume && layout !== 'stream',
    },
    {
      chunk: opts.chunkSize ?? chunkSizeFor(session),
      window: opts.window ?? 8,
      segment: opts.segmentBytes ?? DEFAULT_SEGMENT,
      resume,
      signal,
      progress,
    },
  );
  const results = await up.run();
  progress.tick();
  return {
    files: results,
    directories: dirs.length,
    bytes: results.reduce((a, r) => a + r.bytes, 0),
    movedBytes: progress.movedBytes,
    seconds: progress.seconds,
    bytesPerSecond: progress.bytesPerSecond,
  };
}

interface UploaderOptions {
  chunk: number;
  window: number;
  segment: number;
  resume: boolean;
  signal?: AbortSignal;
  progress: ProgressTracker;
}

class Uploader {
  private jobs: UploadJob[] = [];
  private dirs: Array<{ path: string; mode: number | undefined }> = [];
  /** the first segment's PREPARE_BLOCK answer; jobs and dirs are built from it */
  private prepared: Record<string, unknown> | undefined;
  private planned = false;
  private fileIndex = 0;
  private fh: FileHandle | undefined;
  private streamIt: AsyncIterator<Uint8Array> | undefined;
  private pos = 0;
  private dirsSent = false;
  /** per pipeline: bytes sent and acknowledged, and whether it ended */
  private sent = 0;
  private acked = 0;
  private ended = false;
  private readonly ack = new Signal();
  private readonly results: TransferredFile[] = [];
  /** a read failure of the local side, raised after the pipeline stopped */
  private localError: Error | undefined;

  constructor(
    private readonly session: TransferSession,
    private readonly files: LocalFile[],
    private readonly localDirs: Array<{ rel: string; mode: number }>,
    private readonly prepare: Record<string, PSValue>,
    private readonly o: UploaderOptions,
  ) {
    if (!Number.isInteger(o.chunk) || o.chunk < 1024)
      throw new InvalidArgumentError(`chunkSize must be an integer >= 1024 (got ${o.chunk})`);
    if (!Number.isInteger(o.window) || o.window < 1) throw new InvalidArgumentError(`window must be an integer >= 1 (got ${o.window})`);
  }

  async run(): Promise<TransferredFile[]> {
    try {
      while (!this.planned || !this.dirsSent || this.fileIndex < this.jobs.length) await this.segment();
    } finally {
      await this.fh?.close().catch(() => undefined);
      await this.streamIt?.return?.().catch(() => undefined);
    }
    return this.results;
  }

  /** One pipeline: records until the segment's byte budget is used, then 'pause' (the next one reopens the file). */
  private async segment(): Promise<void> {
    this.sent = 0;
    this.acked = 0;
    this.ended = false;
    const errors: ClixmlValue[] = [];
    let failed = false;
    const input = this.records();
    try {
      // acknowledgements every half window: the remote writes fewer output objects, the window never runs dry
      const ackEvery = BigInt(Math.max(1, Math.floor((this.o.window * this.o.chunk) / 2)));
      const parameters: Record<string, PSValue> = this.planned ? { AckEvery: ackEvery } : { ...this.prepare, AckEvery: ackEvery };
      for await (const ev of this.session.stream(UPLOAD, { parameters, input, signal: this.o.signal })) {
        if (ev.type === 'output') {
          const n = numberOf(ev.value);
          if (n !== undefined) {
            if (n > this.acked) {
              this.o.progress.add(n - this.acked);
              this.acked = n;
            }
            this.ack.wake();
            continue;
          }
          const r = recordOf(ev.value);
          if (r && !this.prepared && 'Root' in r && 'Files' in r) {
            this.prepared = r;
            this.ack.wake();
          } else if (r && typeof r.Path === 'string') this.fileDone(r.Path, String(r.Sha256 ?? ''));
        } else if (ev.type === 'error') errors.push(ev.record);
        else if (ev.type === 'state' && ev.state === PSInvocationState.Failed) {
          failed = true;
          if (ev.error !== undefined) errors.push(ev.error);
        }
      }
    } finally {
      this.ended = true;
      this.ack.wake();
    }
    if (this.localError) throw this.localError;
    if (failed || errors.length) throw scriptFailure('the copy', errors);
    if (!this.planned) throw new LocalProtocolError('the remote host ended the copy without answering its preparation');
  }

  private fileDone(remotePath: string, sha256: string): void {
    const j = this.jobs[this.results.length];
    if (!j) return;
    const bytes = j.size ?? this.pos;
    this.results.push({ local: j.local, remote: remotePath, bytes, sha256, resumedFrom: j.resumedFrom });
    this.o.progress.fileDone();
    this.o.progress.emit({
      type: 'file-done',
      direction: 'copy',
      local: j.local,
      remote: remotePath,
      bytes,
      sha256,
      resumedFrom: j.resumedFrom,
    });
  }

  /** Wait until `n` more bytes fit in the window (or the pipeline ended). */
  private async room(n: number): Promise<boolean> {
    const limit = this.o.window * this.o.chunk;
    while (!this.ended && this.sent - this.acked + n > limit) await this.ack.wait();
    return !this.ended;
  }

  private async readChunk(j: UploadJob): Promise<Uint8Array> {
    if (this.streamIt) {
      const r = await this.streamIt.next();
      return r.done ? new Uint8Array(0) : r.value;
    }
    const buf = Buffer.allocUnsafe(this.o.chunk);
    const { bytesRead } = await this.fh!.read(buf, 0, buf.length, this.pos);
    if (j.size !== undefined && bytesRead === 0 && this.pos < j.size)
      throw transferError('local', 'changed', j.local, 'the file shrank while it was read');
    return buf.subarray(0, bytesRead);
  }

  /** Wait for the PREPARE_BLOCK answer (false: the pipeline ended without one), then plan the jobs from it. */
  private async plan(): Promise<boolean> {
    while (!this.prepared && !this.ended) await this.ack.wait();
    if (!this.prepared) return false;
    const remoteFiles = this.prepared.Files as Array<{ Path: string; PartLength: number; PartSha256: string }> | undefined;
    const remoteDirs = (this.prepared.Dirs as string[] | undefined) ?? [];
    if (!Array.isArray(remoteFiles) || remoteFiles.length !== this.files.length)
      throw new LocalProtocolError('the remote host answered the copy preparation with an unexpected shape');
    for (let i = 0; i < this.files.length; i++) {
      const f = this.files[i]!;
      const r = remoteFiles[i]!;
      let offset = 0;
      let hash = createHash('sha256');
      if (this.o.resume && f.size !== undefined && r.PartLength >= 0 && r.PartLength <= f.size && r.PartSha256) {
        const p = await hashPrefix(f.local, r.PartLength).catch((e) => {
          throw localTransferError(e, f.local);
        });
        if (p.hex === r.PartSha256) {
          offset = r.PartLength;
          hash = p.hash;
        }
      }
      this.jobs.push({ ...f, remote: r.Path, offset, hash, resumedFrom: offset });
    }
    this.dirs = remoteDirs.map((p, i) => ({ path: p, mode: this.localDirs[i]?.mode }));
    const resumed = this.jobs.reduce((a, j) => a + j.offset, 0);
    this.o.progress.emit({
      type: 'start',
      direction: 'copy',
      files: this.jobs.length,
      directories: this.localDirs.length,
      totalBytes: this.o.progress.totalBytes,
      resumedBytes: resumed,
    });
    this.o.progress.skip(resumed);
    this.planned = true;
    return true;
  }

  /** The pipeline input of one segment. */
  private async *records(): AsyncGenerator<PSValue> {
    try {
      if (!this.planned && !(await this.plan())) return;
      if (!this.dirsSent) {
        for (const d of this.dirs) {
          const rec = new Map<string, PSValue>([
            ['op', 'mkdir'],
            ['path', d.path],
          ]);
          if (d.mode !== undefined) rec.set('mode', d.mode);
          yield rec;
        }
        this.dirsSent = true;
      }
      let budget = this.o.segment;
      let reopen = !!(this.fh || this.streamIt);
      while (this.fileIndex < this.jobs.length) {
        const j = this.jobs[this.fileIndex]!;
        if (!this.fh && !this.streamIt) {
          if (j.stream) this.streamIt = rechunk(j.stream, this.o.chunk)[Symbol.asyncIterator]();
          else {
            try {
              this.fh = await open(j.local, 'r');
            } catch (e) {
              throw localTransferError(e, j.local);
            }
          }
          this.pos = j.offset;
          reopen = true;
          this.o.progress.emit({ type: 'file', direction: 'copy', local: j.local, remote: j.remote, bytes: j.size, resumedFrom: j.offset });
        }
        if (reopen) {
          yield new Map<string, PSValue>([
            ['op', 'open'],
            ['path', j.remote],
            ['offset', BigInt(this.pos)],
            ['cont', this.pos > j.offset],
          ]);
          reopen = false;
        }
        for (;;) {
          if (j.size !== undefined && this.pos >= j.size) {
            // the file may have grown since it was listed
            if (this.fh) {
              const { bytesRead } = await this.fh.read(Buffer.alloc(1), 0, 1, this.pos);
              if (bytesRead) throw transferError('local', 'changed', j.local, 'the file grew while it was read');
            }
            break;
          }
          if (budget <= 0) {
            yield new Map<string, PSValue>([['op', 'pause']]);
            return;
          }
          const c = await this.readChunk(j);
          if (!c.length) break; // a stream ended
          if (!(await this.room(c.length))) return;
          j.hash.update(c);
          this.pos += c.length;
          this.sent += c.length;
          budget -= c.length;
          yield c;
        }
        const rec = new Map<string, PSValue>([
          ['op', 'close'],
          ['sha256', j.hash.digest('hex')],
        ]);
        if (j.mode !== undefined) rec.set('mode', j.mode);
        if (j.size === undefined) j.size = this.pos;
        await this.fh?.close();
        this.fh = undefined;
        this.streamIt = undefined;
        this.fileIndex++;
        yield rec;
      }
    } catch (e) {
      // a local failure: stop the pipeline (the Session stops it when the input throws) and report this error
      this.localError ??= e instanceof Error ? e : new Error(String(e));
      throw e;
    }
  }
}
