/**
 * WS-Man (WinRM) as a PoolTransport (src/remoting/transport.ts) for the Session: the same sans-IO pool as the
 * OutOfProc transport, carried by the WS-Man verbs of the internal WSManRunspacePool (src/remoting/wsman-pool.ts).
 *
 *   const t = new WSManTransport(client.wsman, { configurationName: 'Microsoft.PowerShell' });
 *   // Session: t.attach(pool, hooks); pool.open(); await t.openPool(); ... pipeline.start(); await t.createPipeline(id)
 *   await t.disconnect({ idleTimeout: 600 });  await t.reconnect();          // same client
 *   // another process: pool = new ClientRunspacePool({ runspacePoolId: shellId }); t.attach(pool, hooks);
 *   await t.connectPool(shellId); const p = await t.attachPipeline(pid);      // Connect-PSSession + Receive-PSSession
 *
 * Receiving: while the pool opens, a Receive loop on the pool; then one Receive loop per running pipeline (long
 * polls; w:TimedOut = poll again) until the host reports the command Done. Each loop holds one HTTP connection
 * while it waits, so give the client one connection more than the pipelines you run at once (default 4).
 * Sending (Command, Send, Signal) is serialized in order on another connection.
 */
import { AbortError, LocalProtocolError, TransportError } from '../errors.js';
import type { WSManClient } from '../wsman/client.js';
import type { ClientRunspacePool, ClientPipeline } from '../psrp/pool.js';
import { PSInvocationState, RunspacePoolState } from '../psrp/state.js';
import type { PipelineSpec } from '../psrp/messages.js';
import type { PoolTransport, PoolTransportHooks } from './transport.js';
import { WSManRunspacePool, type DisconnectedShell } from './wsman-pool.js';

export interface WSManTransportOptions {
  /** `Microsoft.PowerShell` (default), a JEA / custom name, or a full resource URI */
  configurationName?: string;
  /** seconds the host keeps the shell when no client is connected (Create IdleTimeOut) */
  idleTimeout?: number;
  /** MaxEnvelopeSize policy once open (see WSManPoolOptions.envelopeSize; default 'auto') */
  envelopeSize?: 'auto' | 'protocol' | number;
  /** closed with the transport (the WinRMClient that owns the HTTP connections) */
  owner?: { close(): void };
  /** how long closing may wait for the host's answer to Delete (default 10 s) */
  closeTimeoutMs?: number;
}

const CLOSE_TIMEOUT_MS = 10_000;

export class WSManTransport implements PoolTransport {
  readonly kind = 'wsman';
  private pool!: ClientRunspacePool;
  private hooks!: PoolTransportHooks;
  private rp: WSManRunspacePool | undefined;
  private readonly loops = new Map<string, AbortController>();
  /** what the pool's Receive loop waits for (see loopPool) */
  private readonly poolWaits = new Set<() => boolean>();
  private ended: Error | null | undefined;
  private sized = false;
  /** waiting for the envelope to be sized (see envelopeSized) */
  private sizeWaiters: Array<() => void> | undefined = [];
  private closing: Promise<void> | undefined;

  constructor(
    readonly wsman: WSManClient,
    readonly opts: WSManTransportOptions = {},
  ) {}

  /** The WS-Man shell id (= the runspace pool id) once created or connected. */
  get shellId(): string | undefined {
    return this.rp?.shellId;
  }
  get runspacePool(): WSManRunspacePool | undefined {
    return this.rp;
  }

  /**
   * The MaxEnvelopeSize in bytes once it was sized for this host (the opening Receive loop does it right after the
   * pool is Opened, while the Session already runs pipelines), or at once when that is done or cannot happen any more.
   */
  async envelopeSized(): Promise<number> {
    if (this.sizeWaiters && this.ended === undefined) await new Promise<void>((r) => this.sizeWaiters!.push(r));
    return this.rp?.maxEnvelopeSize ?? this.wsman.maxEnvelopeSize;
  }
  private sizingDone(): void {
    const w = this.sizeWaiters ?? [];
    this.sizeWaiters = undefined;
    for (const r of w) r();
  }

  attach(pool: ClientRunspacePool, hooks: PoolTransportHooks): void {
    if (this.pool) throw new LocalProtocolError('this transport is already attached to a pool');
    this.pool = pool;
    this.hooks = hooks;
  }

  private bind(rp: WSManRunspacePool): void {
    this.rp = rp;
    rp.onReceived = () => this.hooks.onData();
  }

  async openPool(o: { signal?: AbortSignal } = {}): Promise<void> {
    this.checkOpen();
    this.bind(
      await WSManRunspacePool.create(this.wsman, this.pool, {
        configurationName: this.opts.configurationName,
        idleTimeout: this.opts.idleTimeout,
        signal: o.signal,
      }),
    );
    await this.rp!.flush(o.signal);
    this.loopPool(() => {
      const st = this.pool.state;
      return st === RunspacePoolState.Opened || st === RunspacePoolState.Broken || st === RunspacePoolState.Closed;
    });
  }

  /** Connect-PSSession: pick up a Disconnected pool by its shell id (the attached pool has that runspacePoolId). */
  async connectPool(shellId: string, o: { signal?: AbortSignal } = {}): Promise<void> {
    this.checkOpen();
    this.bind(
      await WSManRunspacePool.connect(this.wsman, {
        shellId,
        existingPool: this.pool,
        configurationName: this.opts.configurationName,
        signal: o.signal,
      }),
    );
    this.sized = true;
    try {
      await this.rp!.negotiateEnvelopeSize(this.opts.envelopeSize, o.signal);
    } finally {
      this.sizingDone();
    }
    this.hooks.onData();
  }

  /** Pick up a pipeline that kept running while no client was connected; its output follows through the hooks. */
  async attachPipeline(pipelineId: string, spec?: PipelineSpec, o: { signal?: AbortSignal } = {}): Promise<ClientPipeline> {
    const rp = this.need();
    const p = await rp.attach(pipelineId, spec, o.signal);
    this.loopPipeline(p.id);
    return p;
  }

  async createPipeline(pipelineId: string, o: { signal?: AbortSignal } = {}): Promise<void> {
    this.checkOpen();
    await this.need().command(pipelineId, o.signal);
    this.loopPipeline(pipelineId.toUpperCase());
  }

  flush(): void {
    if (this.ended !== undefined || !this.rp) return;
    this.rp.flush().then(
      () => {
        // pool-level answers (the session key after PUBLIC_KEY) come on the pool's stream: receive there meanwhile
        if (this.pool.keyExchangePending) this.loopPool(() => !this.pool.keyExchangePending);
      },
      (e) => this.die(e as Error),
    );
  }

  async stopPipeline(pipelineId: string): Promise<void> {
    this.checkOpen();
    await this.need().stop(pipelineId, undefined, { beginStop: false });
  }

  async closePipeline(pipelineId: string): Promise<void> {
    const rp = this.rp;
    if (!rp || this.ended !== undefined) return;
    const k = pipelineId.toUpperCase();
    this.loops.get(k)?.abort();
    this.loops.delete(k);
    if (!rp.isCommandDone(k) && !rp.disconnected && !rp.isClosed) await rp.terminate(k).catch(() => undefined);
    rp.forgetCommand(k);
  }

  /** Disconnect-PSSession: stop receiving and leave the shell (and running pipelines) on the host. */
  async disconnect(o: { idleTimeout?: number; signal?: AbortSignal } = {}): Promise<void> {
    const rp = this.need();
    for (const ac of this.loops.values()) ac.abort();
    this.loops.clear();
    await rp.disconnect(o);
  }

  /** Reconnect after `disconnect` from this client: receiving resumes for the pipelines still running. */
  async reconnect(o: { signal?: AbortSignal } = {}): Promise<void> {
    const rp = this.need();
    await rp.reconnect(o);
    for (const p of this.pool.pipelines.values()) if (!p.done || !rp.isCommandDone(p.id)) this.loopPipeline(p.id);
  }

  /** The user's PowerShell shells on this host with their commands (Get-PSSession -ComputerName). */
  listShells(o: { signal?: AbortSignal } = {}): Promise<DisconnectedShell[]> {
    return WSManRunspacePool.list(this.wsman, o);
  }

  /** The user's PowerShell shells on the host with their commands (Get-PSSession -ComputerName). */
  static list(wsman: WSManClient, o: { signal?: AbortSignal } = {}): Promise<DisconnectedShell[]> {
    return WSManRunspacePool.list(wsman, o);
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.sizingDone();
    this.closing = (async () => {
      for (const ac of this.loops.values()) ac.abort();
      this.loops.clear();
      try {
        if (this.rp && !this.rp.disconnected) {
          // Delete the shell on the host (its pwsh ends with it), bounded; after a lost connection too (best effort,
          // on a new connection), so a failed session leaves nothing running behind
          const del = this.rp.close({ signal: AbortSignal.timeout(this.opts.closeTimeoutMs ?? CLOSE_TIMEOUT_MS) });
          if (this.ended === undefined) await del;
          else await del.catch(() => undefined);
        }
      } finally {
        // a pool that was never created on the host has no state to report (Session.open already failed)
        if (this.ended === undefined) {
          this.ended = null;
          if (this.rp) {
            this.hooks?.onData();
            this.hooks?.onClose();
          }
        }
        this.opts.owner?.close();
      }
    })();
    return this.closing;
  }

  // ------------------------------------------------------------------ internals

  private need(): WSManRunspacePool {
    if (!this.rp) throw new LocalProtocolError('the runspace pool has not been created or connected yet');
    return this.rp;
  }

  private checkOpen(): void {
    if (this.ended instanceof Error) throw this.ended;
    if (this.ended !== undefined || this.closing) throw new LocalProtocolError('the WinRM PowerShell session is closed');
  }

  /**
   * Receive on the pool (no CommandId) until `done()`. One loop serves every waiter: a wait added while the loop runs
   * (the key exchange's answer, asked for while the opening loop sizes the envelope) keeps it receiving.
   */
  private loopPool(done: () => boolean): void {
    this.poolWaits.add(done);
    if (this.loops.has('')) return;
    const ac = new AbortController();
    this.loops.set('', ac);
    const rp = this.rp!;
    const pending = () => {
      for (const w of this.poolWaits) if (w()) this.poolWaits.delete(w);
      return this.poolWaits.size > 0;
    };
    const over = () =>
      ac.signal.aborted ||
      this.ended !== undefined ||
      this.pool.state === RunspacePoolState.Broken ||
      this.pool.state === RunspacePoolState.Closed;
    void (async () => {
      try {
        for (;;) {
          while (!over() && pending()) await rp.receive(undefined, ac.signal);
          if (!over() && this.pool.state === RunspacePoolState.Opened && !this.sized) {
            this.sized = true;
            try {
              await rp.negotiateEnvelopeSize(this.opts.envelopeSize, ac.signal);
            } finally {
              this.sizingDone();
            }
          }
          if (over() || !pending()) break;
        }
      } catch (e) {
        if (!ac.signal.aborted && !(e instanceof AbortError)) this.die(e as Error);
      } finally {
        if (this.loops.get('') === ac) {
          this.loops.delete('');
          this.poolWaits.clear();
        }
        if (over()) this.sizingDone(); // the pool will not be sized any more
      }
    })();
  }

  private loopPipeline(pid: string): void {
    const k = pid.toUpperCase();
    if (this.loops.has(k)) return;
    const ac = new AbortController();
    this.loops.set(k, ac);
    const rp = this.rp!;
    void (async () => {
      try {
        while (!ac.signal.aborted && this.ended === undefined && !rp.isCommandDone(k)) {
          await rp.receive(k, ac.signal);
          const p = this.pool.pipelines.get(k);
          if (!p) break; // closed by the session
          if (p.done && p.state !== PSInvocationState.Disconnected && rp.isCommandDone(k)) break;
        }
      } catch (e) {
        if (!ac.signal.aborted && !(e instanceof AbortError)) this.die(e as Error);
      } finally {
        if (this.loops.get(k) === ac) this.loops.delete(k);
      }
    })();
  }

  private die(err: Error): void {
    if (this.ended !== undefined) return;
    this.ended = err instanceof TransportError || err instanceof Error ? err : new TransportError(String(err));
    for (const ac of this.loops.values()) ac.abort();
    this.loops.clear();
    this.sizingDone();
    // the session learns the real cause first (a waiting open fails with it, not with "the pool is Broken")
    this.hooks.onClose(err);
    this.pool.broken(err);
    this.hooks.onData();
  }
}
