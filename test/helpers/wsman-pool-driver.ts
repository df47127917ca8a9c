// A small, strictly sequential driver of the transport-level WSManRunspacePool for tests that pin WS-Man request
// sequences (recorded Windows answers replayed one request at a time; a client that vanishes between two verbs).
// Applications use Session (src/client/session.ts); this only strings the pool's verbs together, one at a time:
// open = Create + Receive until Opened + envelope sizing; invoke = Command (+ Send of input) + Receive until Done.
import { WSManRunspacePool, type WSManPoolOptions } from '../../src/remoting/wsman-pool.js';
import type { WSManClient } from '../../src/wsman/client.js';
import { ClientRunspacePool, type ClientPipeline } from '../../src/psrp/pool.js';
import { PSInvocationState, RunspacePoolState } from '../../src/psrp/state.js';
import type { HostCall, PSRPEvent } from '../../src/psrp/events.js';
import type { PipelineSpec } from '../../src/psrp/messages.js';
import type { ClixmlValue, PSValue } from '../../src/clixml/index.js';
import { RemoteCommandError } from '../../src/errors.js';

/** Answer a host call: a value, an error, or nothing (void calls are never answered). */
export type HostCallHandler = (call: HostCall) => { value?: PSValue } | { error: PSValue } | undefined;

export interface DriverInvokeResult {
  output: ClixmlValue[];
  errors: ClixmlValue[];
  hadErrors: boolean;
  state: PSInvocationState;
  pipelineId: string;
}

const terminal = (s: PSInvocationState) =>
  s === PSInvocationState.Completed || s === PSInvocationState.Failed || s === PSInvocationState.Stopped;

/** Routes the pool's events to per-pipeline queues; answers host calls through `onHostCall`. */
export class PoolDriver {
  private readonly queues = new Map<string, PSRPEvent[]>();
  readonly poolEvents: PSRPEvent[] = [];

  constructor(
    readonly rp: WSManRunspacePool,
    readonly onHostCall?: HostCallHandler,
  ) {
    rp.onReceived = () => this.route();
  }

  get pool(): ClientRunspacePool {
    return this.rp.pool;
  }
  get state(): RunspacePoolState {
    return this.rp.state;
  }
  get shellId(): string {
    return this.rp.shellId;
  }
  get resourceUri(): string {
    return this.rp.resourceUri;
  }
  get maxEnvelopeSize(): number {
    return this.rp.maxEnvelopeSize;
  }
  receive(pipelineId?: string): Promise<{ timedOut: boolean; done: boolean }> {
    return this.rp.receive(pipelineId);
  }
  start(p: ClientPipeline): Promise<void> {
    return this.rp.start(p);
  }
  attach(commandId: string, o: { pipelineId?: string } = {}): Promise<ClientPipeline> {
    return this.rp.attach(commandId, undefined, undefined, o);
  }
  flush(): Promise<void> {
    return this.rp.flush();
  }
  disconnect(o: { idleTimeout?: number } = {}): Promise<void> {
    return this.rp.disconnect(o);
  }
  reconnect(): Promise<void> {
    return this.rp.reconnect();
  }
  close(): Promise<void> {
    return this.rp.close();
  }

  private route(): void {
    for (let e = this.pool.nextEvent(); e; e = this.pool.nextEvent()) {
      const pid = 'pipelineId' in e && e.pipelineId ? e.pipelineId.toUpperCase() : undefined;
      if (!pid) {
        this.poolEvents.push(e);
        continue;
      }
      const q = this.queues.get(pid) ?? [];
      this.queues.set(pid, q);
      q.push(e);
    }
  }

  private async answer(call: HostCall): Promise<void> {
    const r = this.onHostCall?.(call);
    if (call.ci === -100n) return; // a void call gets no answer
    this.pool.hostResponse(call, r ?? { error: `the test host has no answer to ${call.methodName}` });
    await this.rp.flush();
  }

  /** Receive on the pool until it is Opened (a Broken or Closed pool is an error), then size the envelope. */
  async opened(envelopeSize?: WSManPoolOptions['envelopeSize']): Promise<void> {
    while (this.pool.state !== RunspacePoolState.Opened) {
      if (this.pool.state === RunspacePoolState.Broken || this.pool.state === RunspacePoolState.Closed)
        throw new RemoteCommandError(`the runspace pool could not be opened: it is ${RunspacePoolState[this.pool.state]}`);
      await this.rp.receive();
      for (const e of this.poolEvents) if (e.type === 'HostCall') await this.answer(e.call);
    }
    await this.rp.negotiateEnvelopeSize(envelopeSize);
  }

  /** The events of a started or attached pipeline until it ended and the host reported its command Done. */
  async *follow(p: ClientPipeline): AsyncGenerator<PSRPEvent> {
    const pid = p.id.toUpperCase();
    let finished = false;
    try {
      for (;;) {
        const q = this.queues.get(pid) ?? [];
        this.queues.set(pid, q);
        while (q.length) {
          const e = q.shift()!;
          if (e.type === 'HostCall') await this.answer(e.call);
          yield e;
          if (e.type === 'PipelineState' && terminal(e.state)) finished = true;
        }
        if (finished && this.rp.isCommandDone(pid)) break;
        if (this.rp.disconnected) break; // Disconnect-PSSession: the pipeline goes on running on the host
        const r = await this.rp.receive(pid);
        if (finished && r.timedOut) break; // ended, and the host has nothing more to say
      }
    } finally {
      if (!this.rp.isCommandDone(pid) && !this.rp.disconnected && !this.rp.isClosed) await this.rp.terminate(pid).catch(() => undefined);
      this.rp.forgetCommand(pid);
      this.queues.delete(pid);
      p.close();
    }
  }

  /** Command (+ input by Send), then Receive until Done; the outputs, errors and final state. */
  async invoke(spec: PipelineSpec, o: { pipelineId?: string; input?: PSValue[] } = {}): Promise<DriverInvokeResult> {
    const p = this.pool.createPipeline({ ...spec, noInput: o.input === undefined }, { pipelineId: o.pipelineId });
    await this.rp.start(p);
    if (o.input) {
      if (o.input.length) p.sendInput(o.input);
      p.endInput();
      await this.rp.flush();
    }
    const r: DriverInvokeResult = { output: [], errors: [], hadErrors: false, state: PSInvocationState.Running, pipelineId: p.id };
    for await (const e of this.follow(p)) {
      if (e.type === 'Output') r.output.push(e.value);
      else if (e.type === 'Error') {
        r.errors.push(e.record);
        r.hadErrors = true;
      } else if (e.type === 'PipelineState') {
        r.state = e.state;
        if (e.state === PSInvocationState.Failed) r.hadErrors = true;
      }
    }
    return r;
  }
}

/** Create a pool on the host and receive until it is Opened. */
export async function openPool(
  wsman: WSManClient,
  o: Omit<WSManPoolOptions, 'signal'> & { onHostCall?: HostCallHandler } = {},
): Promise<PoolDriver> {
  const pool = new ClientRunspacePool(o.pool);
  pool.open();
  const d = new PoolDriver(await WSManRunspacePool.create(wsman, pool, o), o.onHostCall);
  try {
    await d.rp.flush(); // an INIT_RUNSPACEPOOL larger than one envelope continues on stdin
    await d.opened(o.envelopeSize);
  } catch (e) {
    await d.rp.close().catch(() => undefined);
    throw e;
  }
  return d;
}

/** Connect to a Disconnected pool (Connect-PSSession) and drive it. */
export async function connectPool(wsman: WSManClient, o: Omit<WSManPoolOptions, 'signal'> & { shellId: string }): Promise<PoolDriver> {
  const rp = await WSManRunspacePool.connect(wsman, o);
  const d = new PoolDriver(rp);
  // the Connect response's events arrived before the driver listened
  for (let e = rp.pool.nextEvent(); e; e = rp.pool.nextEvent()) d.poolEvents.push(e);
  return d;
}
