/**
 * Progress of a transfer as events (the CLI draws a bar from them or prints them as NDJSON). Sans-IO: the clock is
 * injected. Rate is measured over the bytes moved in this run (resumed bytes count as done, not as speed), as an
 * exponential moving average of one-second windows, and the ETA follows from it.
 */
export type TransferDirection = 'copy' | 'fetch';

export type TransferEvent =
  | {
      type: 'start';
      direction: TransferDirection;
      files: number;
      directories: number;
      totalBytes: number | undefined;
      resumedBytes: number;
    }
  | { type: 'file'; direction: TransferDirection; local: string; remote: string; bytes: number | undefined; resumedFrom: number }
  | {
      type: 'progress';
      direction: TransferDirection;
      doneBytes: number;
      totalBytes: number | undefined;
      bytesPerSecond: number;
      etaSeconds: number | undefined;
      filesDone: number;
      files: number;
    }
  | { type: 'file-done'; direction: TransferDirection; local: string; remote: string; bytes: number; sha256: string; resumedFrom: number }
  | { type: 'restart'; direction: TransferDirection; local: string; remote: string; reason: string };

export type ProgressListener = (ev: TransferEvent) => void;

export class ProgressTracker {
  doneBytes = 0;
  movedBytes = 0;
  filesDone = 0;
  private readonly t0: number;
  private winStart: number;
  private winBytes = 0;
  private rate = 0;
  private lastEmit = -Infinity;

  constructor(
    readonly direction: TransferDirection,
    readonly totalBytes: number | undefined,
    readonly files: number,
    private readonly listener: ProgressListener | undefined,
    private readonly now: () => number = () => performance.now(),
    /** minimum milliseconds between 'progress' events (the last one always goes out) */
    private readonly intervalMs = 100,
  ) {
    this.t0 = now();
    this.winStart = this.t0;
  }

  emit(ev: TransferEvent): void {
    this.listener?.(ev);
  }

  /** Bytes that were already there (resumed): done, but not part of the rate. */
  skip(n: number): void {
    this.doneBytes += n;
  }
  /** A resumed prefix turned out unusable: its bytes are not done after all. */
  unskip(n: number): void {
    this.doneBytes -= n;
  }

  /** `n` more bytes moved and stored. */
  add(n: number): void {
    this.doneBytes += n;
    this.movedBytes += n;
    this.winBytes += n;
    const t = this.now();
    const dt = t - this.winStart;
    if (dt >= 1000) {
      const r = (this.winBytes * 1000) / dt;
      this.rate = this.rate === 0 ? r : this.rate * 0.6 + r * 0.4;
      this.winStart = t;
      this.winBytes = 0;
    }
    if (t - this.lastEmit >= this.intervalMs) this.tick(t);
  }

  fileDone(): void {
    this.filesDone++;
  }

  /** Bytes per second so far (the moving average once a second has passed). */
  get bytesPerSecond(): number {
    if (this.rate) return this.rate;
    const dt = this.now() - this.t0;
    return dt > 0 ? (this.movedBytes * 1000) / dt : 0;
  }

  get seconds(): number {
    return (this.now() - this.t0) / 1000;
  }

  /** Emit a 'progress' event now. */
  tick(t = this.now()): void {
    this.lastEmit = t;
    const bps = this.bytesPerSecond;
    const left = this.totalBytes === undefined ? undefined : Math.max(0, this.totalBytes - this.doneBytes);
    this.emit({
      type: 'progress',
      direction: this.direction,
      doneBytes: this.doneBytes,
      totalBytes: this.totalBytes,
      bytesPerSecond: Math.round(bps),
      etaSeconds: left === undefined || bps <= 0 ? undefined : Math.round(left / bps),
      filesDone: this.filesDone,
      files: this.files,
    });
  }
}
