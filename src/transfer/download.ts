/**
 * fetch (Copy-Item -FromSession): remote files or directories → local paths or a stream. One round trip lists the
 * sources (LIST), then one pipeline (DOWNLOAD) streams every file as byte[] output objects, paced by credits the
 * client sends as pipeline input (`window` chunks outstanding at most), so neither end buffers more than a
 * window whatever the size. Each file lands in a partial file next to its target; its SHA-256, read back from
 * disk, must equal the remote SHA-256 of the bytes read before the atomic rename. A partial file left by an
 * interrupted run is continued when the remote prefix of that length has the same hash (checked remotely).
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, open, rename, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidArgumentError, LocalProtocolError } from '../errors.js';
import type { ClixmlValue, PSValue } from '../clixml/index.js';
import { PSInvocationState } from '../psrp/state.js';
import { ChecksumMismatchError, localTransferError, transferError } from './errors.js';
import { hashLocalFile } from './hash.js';
import { ProgressTracker } from './progress.js';
import { bytesOf, chunkSizeFor, recordOf, runScript, scriptFailure, Signal, type TransferSession } from './remote.js';
import { DOWNLOAD, LIST, PARTIAL_SUFFIX } from './scripts.js';
import type { TransferOptions, TransferResult, TransferredFile } from './upload.js';

export type FetchOptions = TransferOptions;

/** Where fetched bytes go: a local path (file or directory), or a writable stream (one remote file). */
export type FetchDestination = string | NodeJS.WritableStream;

interface ListedSource {
  Source: string;
  Full: string;
  Name: string;
  Kind: 'file' | 'dir';
  Length: number;
  Mode: number | null;
  Entries: Array<{ Rel: string; Dir: boolean; Length: number; Mode: number | null }>;
}
interface FetchJob {
  remote: string;
  local: string;
  part: string;
  length: number;
  mode: number | undefined;
  offset: number;
  resumedFrom: number;
}

const partName = (local: string) => join(dirname(local), `.${basename(local)}${PARTIAL_SUFFIX}`);

async function kindOf(p: string): Promise<'file' | 'dir' | 'missing' | 'other'> {
  try {
    const s = await stat(p);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw localTransferError(e, p);
  }
}

async function sha256File(path: string): Promise<string> {
  return (await hashLocalFile(path)).hash.digest('hex');
}

/** SHA-256 of a partial file's first `n` bytes (fewer when it is shorter). */
async function hashPrefix(path: string, n: number): Promise<string> {
  return (await hashLocalFile(path, n)).hash.digest('hex');
}

/** Fetch remote files / directories to `dest` (cp semantics: into it when it is an existing directory), or one file to a stream. */
export async function fetchFromRemote(
  session: TransferSession,
  source: string | string[],
  dest: FetchDestination,
  opts: FetchOptions = {},
): Promise<TransferResult> {
  const sources = Array.isArray(source) ? source : [source];
  if (!sources.length || sources.some((s) => typeof s !== 'string' || !s))
    throw new InvalidArgumentError('give the remote path(s) to fetch');
  const signal = opts.signal;
  const toStream = typeof dest !== 'string';
  const listed = (await runScript(session, 'listing the remote files', LIST, { Paths: sources }, signal)).map(
    (v) => recordOf(v) as unknown as ListedSource,
  );
  if (listed.length !== sources.length || listed.some((l) => !l || (l.Kind !== 'file' && l.Kind !== 'dir')))
    throw new LocalProtocolError('the remote host answered the fetch listing with an unexpected shape');

  const jobs: FetchJob[] = [];
  const dirs: Array<{ path: string; mode: number | undefined }> = [];
  if (toStream) {
    if (listed.length !== 1 || listed[0]!.Kind !== 'file') {
      throw transferError(
        'remote',
        'is-directory',
        listed.find((l) => l.Kind !== 'file')?.Full ?? sources.join(', '),
        'a stream takes exactly one remote file',
      );
    }
    const l = listed[0]!;
    jobs.push({ remote: l.Full, local: '-', part: '', length: Number(l.Length), mode: undefined, offset: 0, resumedFrom: 0 });
  } else {
    const target = resolve(dest as string);
    const tkind = await kindOf(target);
    const slash = /[\\/]$/.test(dest as string);
    if (listed.length > 1 && tkind !== 'dir') {
      if (tkind === 'missing') throw transferError('local', 'not-found', target, 'several sources need an existing directory');
      throw transferError('local', 'not-a-directory', target, 'several sources need a directory as the target');
    }
    if (tkind === 'missing' || tkind === 'file' || tkind === 'other') {
      if (slash) throw transferError('local', 'not-found', target, 'the target directory does not exist');
      const parent = dirname(target);
      const pk = await kindOf(parent);
      if (pk === 'missing') throw transferError('local', 'not-found', parent, 'the parent directory of the target does not exist');
      if (pk !== 'dir') throw transferError('local', 'not-a-directory', parent, 'a parent of the target is a file');
    }
    for (const l of listed) {
      const root = tkind === 'dir' ? join(target, l.Name) : target;
      const mode = (m: number | null | undefined) => (typeof m === 'number' && m >= 0 ? m & 0o7777 : undefined);
      if (l.Kind === 'file') {
        if ((await kindOf(root)) === 'dir')
          throw transferError('local', 'is-directory', root, 'the target is a directory, the source a file');
        jobs.push({
          remote: l.Full,
          local: root,
          part: partName(root),
          length: Number(l.Length),
          mode: mode(l.Mode),
          offset: 0,
          resumedFrom: 0,
        });
        continue;
      }
      if (tkind === 'file' && root === target)
        throw transferError('local', 'not-a-directory', root, 'the target is a file, the source a directory');
      dirs.push({ path: root, mode: mode(l.Mode) });
      const sep = /^[A-Za-z]:|\\/.test(l.Full) && !l.Full.startsWith('/') ? '\\' : '/';
      for (const e of l.Entries ?? []) {
        const rel = String(e.Rel).split('/');
        if (rel.some((s) => s === '..' || s === '' || s.includes('\0')))
          throw transferError('remote', 'invalid-name', e.Rel, 'unsafe relative path from the host');
        const local = join(root, ...rel);
        if (e.Dir) dirs.push({ path: local, mode: mode(e.Mode) });
        else
          jobs.push({
            remote: l.Full.replace(/[\\/]+$/, '') + sep + rel.join(sep),
            local,
            part: partName(local),
            length: Number(e.Length),
            mode: mode(e.Mode),
            offset: 0,
            resumedFrom: 0,
          });
      }
    }
    for (const d of dirs) {
      const k = await kindOf(d.path);
      if (k === 'file' || k === 'other') throw transferError('local', 'not-a-directory', d.path, 'a file is in the way of a directory');
      if (k === 'missing')
        await mkdir(d.path, { recursive: true }).catch((e) => {
          throw localTransferError(e, d.path);
        });
    }
    // resume: a partial file no longer than the remote file is offered with its prefix hash (checked remotely)
    for (const j of jobs) {
      const k = await kindOf(j.part);
      if (k !== 'file') continue;
      const size = (await stat(j.part)).size;
      if (opts.resume === false || size > j.length) {
        await truncate(j.part, 0).catch((e) => {
          throw localTransferError(e, j.part);
        });
        continue;
      }
      j.offset = size;
      j.resumedFrom = size;
    }
  }

  const total = jobs.reduce((a, j) => a + j.length, 0);
  const progress = new ProgressTracker('fetch', total, jobs.length, opts.onProgress);
  const resumed = jobs.reduce((a, j) => a + j.offset, 0);
  progress.emit({
    type: 'start',
    direction: 'fetch',
    files: jobs.length,
    directories: dirs.length,
    totalBytes: total,
    resumedBytes: resumed,
  });
  progress.skip(resumed);
  const results: TransferredFile[] = [];
  if (jobs.length) {
    const d = new Downloader(session, jobs, toStream ? (dest as NodeJS.WritableStream) : undefined, {
      chunk: opts.chunkSize ?? chunkSizeFor(session),
      window: opts.window ?? 8,
      signal,
      progress,
      results,
    });
    await d.run();
  }
  // directory modes last (a read-only directory would refuse its files)
  for (const dd of dirs) if (dd.mode !== undefined) await chmod(dd.path, dd.mode).catch(() => undefined);
  progress.tick();
  return {
    files: results,
    directories: dirs.length,
    bytes: total,
    movedBytes: progress.movedBytes,
    seconds: progress.seconds,
    bytesPerSecond: progress.bytesPerSecond,
  };
}

interface DownloaderOptions {
  chunk: number;
  window: number;
  signal?: AbortSignal;
  progress: ProgressTracker;
  results: TransferredFile[];
}

class Downloader {
  /** index of the file being received */
  private cur = 0;
  private fh: FileHandle | undefined;
  private got = 0;
  private streamHash = createHash('sha256');
  /** credits to grant (chunks consumed since the last grant) */
  private owed = 0;
  private opened = 0;
  private done = false;
  private readonly wake = new Signal();

  constructor(
    private readonly session: TransferSession,
    private readonly jobs: FetchJob[],
    private readonly out: NodeJS.WritableStream | undefined,
    private readonly o: DownloaderOptions,
  ) {
    if (!Number.isInteger(o.chunk) || o.chunk < 1024)
      throw new InvalidArgumentError(`chunkSize must be an integer >= 1024 (got ${o.chunk})`);
    if (!Number.isInteger(o.window) || o.window < 1) throw new InvalidArgumentError(`window must be an integer >= 1 (got ${o.window})`);
  }

  async run(): Promise<void> {
    const errors: ClixmlValue[] = [];
    let failed = false;
    let localError: Error | undefined;
    try {
      await this.openLocal(this.jobs[0]!);
      for await (const ev of this.session.stream(DOWNLOAD, {
        parameters: { Chunk: this.o.chunk },
        input: this.input(),
        signal: this.o.signal,
      })) {
        if (localError) continue; // drain: the pipeline is being stopped
        try {
          if (ev.type === 'output') await this.onOutput(ev.value);
          else if (ev.type === 'error') errors.push(ev.record);
          else if (ev.type === 'state' && ev.state === PSInvocationState.Failed) {
            failed = true;
            if (ev.error !== undefined) errors.push(ev.error);
          }
        } catch (e) {
          localError = e instanceof Error ? e : new Error(String(e));
          this.done = true;
          this.wake.wake(); // ends the input: the remote finishes, we stop listening
          break;
        }
      }
    } finally {
      this.done = true;
      this.wake.wake();
      await this.fh?.close().catch(() => undefined);
    }
    if (localError) throw localError;
    if (failed || errors.length) throw scriptFailure('the fetch', errors);
    if (this.cur < this.jobs.length)
      throw new LocalProtocolError(`the remote host ended the fetch after ${this.cur} of ${this.jobs.length} files`);
  }

  /** Pipeline input: open records (a few files ahead) and credits. */
  private async *input(): AsyncGenerator<PSValue> {
    const ahead = 64;
    let first = true;
    while (!this.done) {
      while (this.opened < this.jobs.length && this.opened - this.cur < ahead) {
        const j = this.jobs[this.opened++]!;
        let prefix = '';
        if (j.offset > 0) prefix = await hashPrefix(j.part, j.offset).catch(() => '');
        yield new Map<string, PSValue>([
          ['path', j.remote],
          ['offset', BigInt(j.offset)],
          ['length', BigInt(j.length)],
          ['prefix', prefix],
        ]);
      }
      if (first) {
        first = false;
        yield this.o.window;
        continue;
      }
      if (this.owed >= Math.max(1, this.o.window >> 1)) {
        const n = this.owed;
        this.owed = 0;
        yield n;
        continue;
      }
      if (this.cur >= this.jobs.length) return;
      await this.wake.wait();
    }
  }

  private async openLocal(j: FetchJob): Promise<void> {
    this.got = j.offset;
    if (this.out) return;
    try {
      this.fh = await open(j.part, j.offset > 0 ? 'r+' : 'w', 0o666);
    } catch (e) {
      throw localTransferError(e, j.part);
    }
    this.o.progress.emit({ type: 'file', direction: 'fetch', local: j.local, remote: j.remote, bytes: j.length, resumedFrom: j.offset });
  }

  private async write(b: Uint8Array): Promise<void> {
    if (this.out) {
      this.streamHash.update(b);
      if (!this.out.write(b))
        await new Promise<void>((res, rej) => {
          const s = this.out as NodeJS.WritableStream & {
            once(e: string, f: (...a: unknown[]) => void): unknown;
            off?(e: string, f: (...a: unknown[]) => void): unknown;
          };
          const ok = () => {
            s.off?.('error', bad);
            res();
          };
          const bad = (e: unknown) => {
            s.off?.('drain', ok);
            rej(e);
          };
          s.once('drain', ok);
          s.once('error', bad);
        });
      return;
    }
    const j = this.jobs[this.cur]!;
    try {
      let off = 0;
      while (off < b.length) {
        const { bytesWritten } = await this.fh!.write(b, off, b.length - off, this.got + off);
        off += bytesWritten;
      }
    } catch (e) {
      throw localTransferError(e, j.local);
    }
  }

  private async onOutput(v: ClixmlValue): Promise<void> {
    const j = this.jobs[this.cur];
    if (!j) throw new LocalProtocolError('the remote host sent more than was asked for');
    const b = bytesOf(v);
    if (b) {
      if (this.got + b.length > j.length) throw transferError('remote', 'changed', j.remote, 'more bytes arrived than the file had');
      await this.write(b);
      this.got += b.length;
      this.o.progress.add(b.length);
      this.owed++;
      this.wake.wake();
      return;
    }
    const r = recordOf(v);
    if (!r) return;
    if (typeof r.Restart === 'string') {
      // the partial file's prefix differs from the remote file: start it over
      this.o.progress.unskip(j.offset);
      this.o.progress.emit({
        type: 'restart',
        direction: 'fetch',
        local: j.local,
        remote: j.remote,
        reason: 'the partial file does not match the remote file',
      });
      j.resumedFrom = 0;
      j.offset = 0;
      this.got = 0;
      await this.fh?.truncate(0).catch((e) => {
        throw localTransferError(e, j.part);
      });
      return;
    }
    if (typeof r.Done === 'string') await this.finish(j, String(r.Sha256 ?? ''));
  }

  private async finish(j: FetchJob, remoteHash: string): Promise<void> {
    if (this.got !== j.length) throw transferError('remote', 'changed', j.remote, `${this.got} bytes arrived, the file had ${j.length}`);
    let local: string;
    if (this.out) local = this.streamHash.digest('hex');
    else {
      try {
        await this.fh!.sync().catch(() => undefined);
        await this.fh!.close();
      } catch (e) {
        throw localTransferError(e, j.part);
      } finally {
        this.fh = undefined;
      }
      local = await sha256File(j.part).catch((e) => {
        throw localTransferError(e, j.part);
      });
    }
    if (local !== remoteHash) {
      if (!this.out) await unlink(j.part).catch(() => undefined);
      throw new ChecksumMismatchError(
        `SHA-256 mismatch for '${j.local === '-' ? j.remote : j.local}' (remote ${remoteHash}, local ${local}): the data was ` +
          `damaged on the way or on disk; run the same command again`,
        'local',
        j.local,
        remoteHash,
        local,
      );
    }
    if (!this.out) {
      if (j.mode !== undefined) await chmod(j.part, j.mode).catch(() => undefined);
      try {
        await rename(j.part, j.local);
      } catch (e) {
        throw localTransferError(e, j.local);
      }
    }
    this.o.progress.fileDone();
    this.o.results.push({ local: j.local, remote: j.remote, bytes: j.length, sha256: local, resumedFrom: j.resumedFrom });
    this.o.progress.emit({
      type: 'file-done',
      direction: 'fetch',
      local: j.local,
      remote: j.remote,
      bytes: j.length,
      sha256: local,
      resumedFrom: j.resumedFrom,
    });
    this.cur++;
    this.wake.wake();
    const next = this.jobs[this.cur];
    if (next) await this.openLocal(next);
  }
}
