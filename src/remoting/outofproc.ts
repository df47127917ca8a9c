/**
 * The OutOfProc driver: runs a ClientRunspacePool over any byte stream that speaks PowerShell's OutOfProc framing
 * (`pwsh -s` stdio, the SSH `powershell` subsystem, named pipes). Ack-driven as the server requires
 * (docs/protocol.md, "OutOfProc"): Command before a pipeline's Data, at most one un-acked Data per target, Close per pipeline.
 */
import { RemoteProtocolError, TransportError, LocalProtocolError } from '../errors.js';
import { debug } from '../util/debug.js';
import type { ClientRunspacePool } from '../psrp/pool.js';
import { DEFAULT_FRAGMENT_SIZE } from '../psrp/fragment.js';
import { encodePacketBytes, OutOfProcDecoder, OUTOFPROC_POOL_GUID, type OutOfProcPacket } from '../psrp/outofproc-codec.js';
import type { PoolTransport, PoolTransportHooks } from './transport.js';

/** What the driver needs from a byte stream: a Node Duplex, a child's stdio pair, an ssh2 channel. */
export interface DuplexLike {
  write(chunk: string | Uint8Array): unknown;
  on(event: 'data', cb: (chunk: Uint8Array | string) => void): unknown;
  on(event: 'close' | 'end', cb: () => void): unknown;
  on(event: 'error', cb: (err: Error) => void): unknown;
  end?(): unknown;
  /** stop emitting 'data' until resume() (receive backpressure; a Node Readable / ssh2 channel has both) */
  pause?(): unknown;
  resume?(): unknown;
}

export interface OutOfProcOptions {
  /** bytes of fragments per <Data> packet (default 32 KiB, as PowerShell) */
  fragmentSize?: number;
  /** called to tear the stream down after the pool is closed (kill the process, close the channel) */
  destroy?: () => void | Promise<void>;
  kind?: string;
  /** extra text for connection-lost errors (e.g. the child's stderr) */
  describeClose?: () => string;
  /** how long close() waits for the server's CloseAck before tearing the stream down (default 10 s) */
  closeTimeoutMs?: number;
}

type AckKey = string; // `${type}:${guid}`

export class OutOfProcTransport implements PoolTransport {
  readonly kind: string;
  private pool!: ClientRunspacePool;
  private hooks!: PoolTransportHooks;
  private readonly decoder = new OutOfProcDecoder();
  private readonly fragmentSize: number;
  /** targets (lowercase guid) with an un-acked <Data> */
  private readonly inflight = new Set<string>();
  /** pipelines whose <Command> was acked (Data may flow) */
  private readonly commanded = new Set<string>();
  private readonly waiters = new Map<AckKey, Array<{ resolve: () => void; reject: (e: Error) => void }>>();
  private ended: Error | null | undefined; // undefined = open, null = closed cleanly, Error = died
  private closing: Promise<void> | undefined;
  private paused = false;

  constructor(
    private readonly stream: DuplexLike,
    private readonly opts: OutOfProcOptions = {},
  ) {
    this.kind = opts.kind ?? 'outofproc';
    this.fragmentSize = opts.fragmentSize ?? DEFAULT_FRAGMENT_SIZE;
  }

  attach(pool: ClientRunspacePool, hooks: PoolTransportHooks): void {
    if (this.pool) throw new LocalProtocolError('this transport is already attached to a pool');
    this.pool = pool;
    this.hooks = hooks;
    this.stream.on('data', (c) => this.onBytes(typeof c === 'string' ? new TextEncoder().encode(c) : c));
    this.stream.on('error', (e) =>
      this.die(new TransportError(`the PowerShell ${this.kind} connection failed: ${e.message}`, { cause: e })),
    );
    const onEnd = () =>
      this.die(this.closing ? null : new TransportError(`the PowerShell ${this.kind} connection closed unexpectedly${this.describe()}`));
    this.stream.on('end', onEnd);
    this.stream.on('close', onEnd);
  }

  private describe(): string {
    const d = this.opts.describeClose?.();
    return d ? `: ${d}` : '';
  }

  async openPool(): Promise<void> {
    this.checkOpen();
    this.flush();
  }

  async createPipeline(pipelineId: string): Promise<void> {
    this.checkOpen();
    const g = pipelineId.toLowerCase();
    await this.request({ type: 'Command', psGuid: g }, 'CommandAck');
    this.commanded.add(g);
    this.flush();
  }

  /**
   * Receive backpressure: stop reading the server's bytes (the OS pipe / SSH window fills and the server's writer
   * waits) until resumeReading(). Acks travel on the same stream, so the Session resumes before it waits for one.
   * A no-op when the stream cannot pause.
   */
  pauseReading(): void {
    if (this.paused || this.ended !== undefined || !this.stream.pause || !this.stream.resume) return;
    this.paused = true;
    debug('outofproc: reading paused');
    this.stream.pause();
  }
  resumeReading(): void {
    if (!this.paused) return;
    this.paused = false;
    debug('outofproc: reading resumed');
    this.stream.resume?.();
  }
  /** Whether reading is paused (pauseReading). */
  get readingPaused(): boolean {
    return this.paused;
  }

  flush(): void {
    if (this.ended !== undefined) return;
    for (const t of this.pool.pendingTargets()) {
      const g = (t.pipelineId ?? OUTOFPROC_POOL_GUID).toLowerCase();
      if (g !== OUTOFPROC_POOL_GUID && !this.commanded.has(g)) continue;
      if (this.inflight.has(g)) continue;
      const p = this.pool.dataToSend(this.fragmentSize, t);
      if (!p) continue;
      this.inflight.add(g);
      this.write({ type: 'Data', stream: p.stream === 'pr' ? 'PromptResponse' : 'Default', psGuid: g, data: p.data });
    }
  }

  async stopPipeline(pipelineId: string): Promise<void> {
    this.checkOpen();
    await this.request({ type: 'Signal', psGuid: pipelineId.toLowerCase() }, 'SignalAck');
  }

  async closePipeline(pipelineId: string): Promise<void> {
    const g = pipelineId.toLowerCase();
    if (this.ended !== undefined || !this.commanded.has(g)) return;
    await this.request({ type: 'Close', psGuid: g }, 'CloseAck');
    this.commanded.delete(g);
    this.inflight.delete(g);
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.resumeReading(); // the CloseAcks come after whatever is buffered
    this.closing = (async () => {
      try {
        if (this.ended === undefined) {
          this.pool.beginClose();
          const handshake = (async () => {
            // the server blocks the session Close until every pipeline is closed
            await Promise.all([...this.commanded].map((g) => this.closePipeline(g).catch(() => undefined)));
            await this.request({ type: 'Close', psGuid: OUTOFPROC_POOL_GUID }, 'CloseAck').catch(() => undefined);
          })();
          // a peer that stops answering must not hold close() forever
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            handshake,
            new Promise<void>((r) => {
              timer = setTimeout(r, this.opts.closeTimeoutMs ?? 10_000);
            }),
          ]);
          clearTimeout(timer);
        }
      } finally {
        this.pool.closed();
        this.die(null);
        try {
          this.stream.end?.();
        } catch {
          /* ignore */
        }
        await this.opts.destroy?.();
      }
    })();
    return this.closing;
  }

  // ------------------------------------------------------------------ internals

  private checkOpen(): void {
    if (this.ended instanceof Error) throw this.ended;
    if (this.ended !== undefined || this.closing) throw new LocalProtocolError(`the PowerShell ${this.kind} connection is closed`);
  }

  private write(p: OutOfProcPacket): void {
    debug('outofproc > %s %s', p.type, p.psGuid);
    this.stream.write(encodePacketBytes(p));
  }

  private request(p: OutOfProcPacket, ack: OutOfProcPacket['type']): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.ended instanceof Error) {
        reject(this.ended);
        return;
      }
      if (this.ended === null) {
        reject(new LocalProtocolError(`the PowerShell ${this.kind} connection is closed`));
        return;
      }
      const key = `${ack}:${p.psGuid.toLowerCase()}`;
      let list = this.waiters.get(key);
      if (!list) {
        list = [];
        this.waiters.set(key, list);
      }
      list.push({ resolve, reject }); // registered before writing: the ack can come back at once
      this.write(p);
    });
  }

  private onBytes(chunk: Uint8Array): void {
    if (this.ended !== undefined) return;
    try {
      // one read often holds several packets: the session drains and the pool's output is flushed once per read
      let data = false;
      for (const p of this.decoder.push(chunk)) {
        if (p.type === 'Data') {
          if (debug.enabled) debug('outofproc < Data %s', p.psGuid);
          this.pool.receiveData({
            data: p.data,
            stream: p.stream === 'PromptResponse' ? 'pr' : 'default',
            pipelineId: p.psGuid === OUTOFPROC_POOL_GUID ? undefined : p.psGuid,
          });
          data = true;
        } else this.onPacket(p);
      }
      if (data) {
        this.hooks.onData();
        this.flush();
      }
    } catch (e) {
      const err =
        e instanceof RemoteProtocolError
          ? e
          : new RemoteProtocolError(`bad data from the PowerShell ${this.kind} server: ${(e as Error).message}`, { cause: e });
      this.die(err);
      void this.opts.destroy?.();
    }
  }

  private onPacket(p: OutOfProcPacket): void {
    if (debug.enabled) debug('outofproc < %s %s', p.type, p.psGuid);
    switch (p.type) {
      case 'Data': // onBytes feeds the pool
        return;
      case 'DataAck':
        this.inflight.delete(p.psGuid);
        this.flush();
        return;
      case 'CommandAck':
      case 'SignalAck':
      case 'CloseAck': {
        const key = `${p.type}:${p.psGuid}`;
        const list = this.waiters.get(key);
        const w = list?.shift();
        if (list && !list.length) this.waiters.delete(key);
        if (!w) throw new RemoteProtocolError(`the server sent an unexpected ${p.type} for ${p.psGuid}`);
        w.resolve();
        return;
      }
      case 'Command':
      case 'Signal':
      case 'Close':
        throw new RemoteProtocolError(`the server sent a client-only <${p.type}> packet`);
    }
  }

  private die(err: Error | null): void {
    if (this.ended !== undefined) return;
    this.ended = err;
    const rejectWith = err ?? new LocalProtocolError(`the PowerShell ${this.kind} connection is closed`);
    for (const list of this.waiters.values()) for (const w of list) w.reject(rejectWith);
    this.waiters.clear();
    if (err) this.pool.broken(err);
    // onClose first: the session learns the error before it drains the Failed pipeline states broken() queued
    this.hooks.onClose(err ?? undefined);
    this.hooks.onData();
  }
}
