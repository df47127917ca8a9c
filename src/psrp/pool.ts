/**
 * The client side of a PSRP runspace pool and its pipelines (MS-PSRP 3.1), sans-IO: the transport feeds received
 * bytes with `receiveData`, reads events with `nextEvent`, and takes bytes to send with `dataToSend`.
 * Transport-level actions (create/stop/close a pipeline, close the pool) are the transport's job; the core tracks
 * their state through `beginStop`, `beginClose` and `closed`.
 */
import { randomUUID } from 'node:crypto';
import { LocalProtocolError, RemoteProtocolError } from '../errors.js';
import { deserialize, serialize, PSObject, type ClixmlValue, type PSValue, type SecureStringCipher } from '../clixml/index.js';
import { fromBase64, fromUtf8, toBase64, utf8 } from '../util/bytes.js';
import { debug } from '../util/debug.js';
import {
  Defragmenter,
  FragmentReader,
  DEFAULT_FRAGMENT_SIZE,
  FRAGMENT_HEADER_SIZE,
  MIN_FRAGMENT_SIZE,
  encodeFragment,
} from './fragment.js';
import { decodeMessage, encodeMessage, Destination, MessageType, EMPTY_GUID, messageTypeName, type PSRPMessage } from './message.js';
import { PoolStateMachine, PipelineStateMachine, RunspacePoolState, PSInvocationState } from './state.js';
import * as M from './messages.js';
import { hostMethod } from './host-methods.js';
import { decryptSessionKey, encodePublicKeyBlob, generateRsaKeyPair, SessionKeyCipher, type RsaKeyPair } from './crypto.js';
import type { HostCall, PSRPEvent, RecordStream } from './events.js';
import { Queue } from './queue.js';

export type PSRPStream = 'default' | 'pr';
/** Bytes for the transport: all fragments in `data` belong to one target and one stream. */
export interface PSRPPayload {
  data: Uint8Array;
  stream: PSRPStream;
  pipelineId?: string;
}

interface Outgoing {
  objectId: bigint;
  bytes: Uint8Array;
  offset: number;
  fragmentId: bigint;
}

export interface ClientRunspacePoolOptions {
  runspacePoolId?: string;
  minRunspaces?: number;
  maxRunspaces?: number;
  /** the host the pool presents (default: none; host calls then fail on the server) */
  host?: M.HostInfoSpec;
  applicationArguments?: Record<string, PSValue> | null;
  /** protocolversion we announce (default 2.3) */
  protocolVersion?: string;
  /** bound on one reassembled message (default 256 MiB) */
  maxMessageSize?: number;
}

function upperGuid(g: string): string {
  return g.toUpperCase();
}

/** MS-PSRP 3.1 client runspace pool. */
export class ClientRunspacePool {
  readonly id: string;
  readonly minRunspaces: number;
  readonly maxRunspaces: number;
  readonly host: M.HostInfoSpec;
  readonly protocolVersion: string;
  private readonly applicationArguments: Record<string, PSValue> | null;
  private readonly sm = new PoolStateMachine();
  /** negotiated values from the server's SESSION_CAPABILITY */
  serverProtocolVersion: string | undefined;
  serverPSVersion: string | undefined;
  applicationPrivateData: ClixmlValue | undefined;
  private readonly events = new Queue<PSRPEvent>();
  private readonly outgoing = new Map<string, { default: Outgoing[]; pr: Outgoing[] }>();
  private readonly readers = new Map<string, { reader: FragmentReader; defrag: Defragmenter }>();
  private readonly maxMessageSize: number;
  private nextObjectId = 1n;
  readonly pipelines = new Map<string, ClientPipeline>();
  private keyPair: RsaKeyPair | undefined;
  private sessionCipher: SecureStringCipher | undefined;
  /** true between sending PUBLIC_KEY and receiving ENCRYPTED_SESSION_KEY */
  keyExchangePending = false;

  constructor(opts: ClientRunspacePoolOptions = {}) {
    this.id = upperGuid(opts.runspacePoolId ?? randomUUID());
    this.minRunspaces = opts.minRunspaces ?? 1;
    this.maxRunspaces = opts.maxRunspaces ?? 1;
    if (
      !Number.isInteger(this.minRunspaces) ||
      !Number.isInteger(this.maxRunspaces) ||
      this.minRunspaces < 1 ||
      this.maxRunspaces < this.minRunspaces
    ) {
      throw new LocalProtocolError(`invalid runspace counts min=${this.minRunspaces} max=${this.maxRunspaces}`);
    }
    this.host = opts.host ?? M.NULL_HOST_INFO;
    this.protocolVersion = opts.protocolVersion ?? '2.3';
    this.applicationArguments = opts.applicationArguments ?? null;
    this.maxMessageSize = opts.maxMessageSize ?? 256 * 1024 * 1024;
  }

  get state(): RunspacePoolState {
    return this.sm.state;
  }
  /** The SecureString cipher once the session key is known (MS-PSRP 3.1.4.11). */
  get cipher(): SecureStringCipher | undefined {
    return this.sessionCipher;
  }
  get hasSessionKey(): boolean {
    return this.sessionCipher !== undefined;
  }

  // ------------------------------------------------------------------ actions

  /** MS-PSRP 3.1.4.1: queue SESSION_CAPABILITY + INIT_RUNSPACEPOOL (creationXml / first OutOfProc Data). */
  open(): void {
    this.sm.require('open the pool', RunspacePoolState.BeforeOpen);
    this.queue(MessageType.SESSION_CAPABILITY, M.sessionCapability(this.protocolVersion));
    this.queue(
      MessageType.INIT_RUNSPACEPOOL,
      M.initRunspacePool({
        minRunspaces: this.minRunspaces,
        maxRunspaces: this.maxRunspaces,
        host: this.host,
        applicationArguments: this.applicationArguments,
      }),
    );
    this.sm.move(RunspacePoolState.NegotiationSent);
  }

  /** MS-PSRP 3.1.4.9 (CONNECT_RUNSPACEPOOL): queue SESSION_CAPABILITY + CONNECT_RUNSPACEPOOL for reconnecting a disconnected pool. */
  connect(): void {
    this.sm.require('connect the pool', RunspacePoolState.BeforeOpen, RunspacePoolState.Disconnected);
    this.queue(MessageType.SESSION_CAPABILITY, M.sessionCapability(this.protocolVersion));
    this.queue(MessageType.CONNECT_RUNSPACEPOOL, new PSObject({}), undefined, '<S />');
    this.sm.move(RunspacePoolState.Connecting);
  }

  /**
   * MS-PSRP 3.1.4.11: start the session key exchange (queue PUBLIC_KEY). The key pair may be injected
   * (e.g. generated asynchronously); by default a 2048-bit RSA pair is generated synchronously.
   */
  exchangeKey(keys?: RsaKeyPair): void {
    this.sm.require('exchange keys', RunspacePoolState.Opened);
    if (this.keyExchangePending) return;
    this.keyPair = keys ?? generateRsaKeyPair();
    this.keyExchangePending = true;
    this.queue(MessageType.PUBLIC_KEY, M.publicKey(toBase64(encodePublicKeyBlob(this.keyPair.publicKey))));
  }

  /** Create a pipeline object (not yet sent; call `pipeline.start()`). */
  createPipeline(spec: M.PipelineSpec, opts: { pipelineId?: string } = {}): ClientPipeline {
    this.sm.require('create a pipeline', RunspacePoolState.Opened);
    const p = new ClientPipeline(this, upperGuid(opts.pipelineId ?? randomUUID()), spec);
    if (this.pipelines.has(p.id)) throw new LocalProtocolError(`pipeline ${p.id} already exists`);
    this.pipelines.set(p.id, p);
    return p;
  }

  /** Answer a host call (MS-PSRP 2.2.2.16 / 2.2.2.28). `value` must already have the .NET type the method returns. */
  hostResponse(call: HostCall, result: { value?: PSValue } | { error: PSValue }): void {
    if (call.ci === -100n) throw new LocalProtocolError(`host method ${call.methodName} is void: it takes no response`);
    const body = M.hostResponse(
      call.ci,
      call.methodId,
      call.methodName,
      'error' in result
        ? { error: typeof result.error === 'string' ? M.errorRecordForRemoting(result.error) : result.error, hasValue: false }
        : { value: result.value, hasValue: hostMethod(call.methodId).returns !== 'void' },
    );
    if (call.pipelineId) {
      const p = this.pipelines.get(call.pipelineId);
      if (!p) throw new LocalProtocolError(`no pipeline ${call.pipelineId} to answer a host call for`);
      p.requireActive('answer a host call');
      this.queue(MessageType.PIPELINE_HOST_RESPONSE, body, call.pipelineId, undefined, 'pr');
    } else {
      this.sm.require('answer a host call', RunspacePoolState.Opened);
      this.queue(MessageType.RUNSPACEPOOL_HOST_RESPONSE, body, undefined, undefined, 'pr');
    }
  }

  /** The transport began closing the pool (OutOfProc Close / WS-Man Delete). */
  beginClose(): void {
    if (this.sm.state === RunspacePoolState.Closed || this.sm.state === RunspacePoolState.Closing) return;
    this.sm.move(RunspacePoolState.Closing);
    this.pushPoolState(RunspacePoolState.Closing);
  }
  /** The transport finished closing the pool. */
  closed(): void {
    if (this.sm.state === RunspacePoolState.Closed) return;
    if (this.sm.state !== RunspacePoolState.Closing && this.sm.state !== RunspacePoolState.Broken) this.sm.move(RunspacePoolState.Closing);
    this.sm.move(RunspacePoolState.Closed);
    this.pushPoolState(RunspacePoolState.Closed);
  }
  /** The connection died: the pool is Broken and every running pipeline Failed. */
  broken(reason?: unknown): void {
    if (this.sm.state === RunspacePoolState.Closed || this.sm.state === RunspacePoolState.Broken) return;
    this.sm.state = RunspacePoolState.Broken;
    this.events.push({
      type: 'RunspacePoolState',
      state: RunspacePoolState.Broken,
      error: reason === undefined ? undefined : String((reason as Error)?.message ?? reason),
    });
    for (const p of this.pipelines.values()) {
      if (!p.done) {
        p.sm.state = PSInvocationState.Failed;
        this.events.push({ type: 'PipelineState', pipelineId: p.id, state: PSInvocationState.Failed });
      }
    }
  }
  private pushPoolState(state: RunspacePoolState): void {
    if (this.lastPoolStateEvent !== state) this.events.push({ type: 'RunspacePoolState', state });
    this.lastPoolStateEvent = state;
  }
  private lastPoolStateEvent: RunspacePoolState | undefined;

  // ------------------------------------------------------------------ bytes out

  /** @internal queue one message for `target` ('' = the pool). */
  queue(type: MessageType, body: PSValue, pipelineId?: string, rawData?: string, stream: PSRPStream = 'default'): void {
    const data = rawData ?? serialize(body, { cipher: this.sessionCipher });
    const bytes = encodeMessage({
      destination: Destination.Server,
      messageType: type,
      rpid: this.id,
      pid: pipelineId ?? EMPTY_GUID,
      data: utf8(data),
    });
    const key = pipelineId ?? '';
    let q = this.outgoing.get(key);
    if (!q) {
      q = { default: [], pr: [] };
      this.outgoing.set(key, q);
    }
    q[stream].push({ objectId: this.nextObjectId++, bytes, offset: 0, fragmentId: 0n });
    if (debug.enabled) debug('psrp > %s %s %d bytes', messageTypeName(type), pipelineId ?? 'pool', bytes.length);
  }

  /** Targets that have data waiting: undefined = the pool, otherwise pipeline ids. */
  pendingTargets(): Array<{ pipelineId?: string; stream: PSRPStream }> {
    const out: Array<{ pipelineId?: string; stream: PSRPStream }> = [];
    for (const [k, q] of this.outgoing) {
      if (q.default.length) out.push(k ? { pipelineId: k, stream: 'default' } : { stream: 'default' });
      if (q.pr.length) out.push(k ? { pipelineId: k, stream: 'pr' } : { stream: 'pr' });
    }
    return out;
  }

  /**
   * Take up to `maxSize` bytes of whole fragments (several messages may be packed) for one target and stream.
   * With no `target`, the first target with data is used. Undefined when nothing is waiting.
   */
  dataToSend(maxSize = DEFAULT_FRAGMENT_SIZE, target?: { pipelineId?: string; stream?: PSRPStream }): PSRPPayload | undefined {
    if (!Number.isInteger(maxSize) || maxSize < MIN_FRAGMENT_SIZE)
      throw new LocalProtocolError(`maximum size ${maxSize} is below the minimum of ${MIN_FRAGMENT_SIZE} bytes`);
    let key: string | undefined;
    let stream: PSRPStream | undefined;
    if (target) {
      key = target.pipelineId ? upperGuid(target.pipelineId) : '';
      const q = this.outgoing.get(key);
      if (!q) return undefined;
      stream = target.stream ?? (q.default.length ? 'default' : 'pr');
    } else {
      const t = this.pendingTargets()[0];
      if (!t) return undefined;
      key = t.pipelineId ?? '';
      stream = t.stream;
    }
    const q = this.outgoing.get(key)!;
    const list = q[stream];
    if (!list.length) return undefined;
    const parts: Uint8Array[] = [];
    let room = maxSize;
    while (list.length && room >= MIN_FRAGMENT_SIZE) {
      const o = list[0]!;
      const take = Math.min(room - FRAGMENT_HEADER_SIZE, o.bytes.length - o.offset);
      const blob = o.bytes.subarray(o.offset, o.offset + take);
      const start = o.offset === 0;
      o.offset += take;
      const end = o.offset >= o.bytes.length;
      const frag = encodeFragment({ objectId: o.objectId, fragmentId: o.fragmentId++, start, end, blob });
      parts.push(frag);
      room -= frag.length;
      if (end) list.shift();
      else break;
    }
    if (!q.default.length && !q.pr.length) this.outgoing.delete(key);
    let n = 0;
    for (const p of parts) n += p.length;
    const data = new Uint8Array(n);
    let off = 0;
    for (const p of parts) {
      data.set(p, off);
      off += p.length;
    }
    return key ? { data, stream, pipelineId: key } : { data, stream };
  }

  // ------------------------------------------------------------------ bytes in

  /** Feed bytes received from the server (whole or partial fragments, for the pool or a pipeline). */
  receiveData(payload: { data: Uint8Array; stream?: PSRPStream; pipelineId?: string }): void {
    const id = payload.pipelineId;
    let key: string;
    if (id === this.lastIdIn) key = this.lastKeyIn;
    else {
      key = id && id !== EMPTY_GUID ? upperGuid(id) : '';
      this.lastIdIn = id;
      this.lastKeyIn = key;
    }
    let r = this.readers.get(key);
    if (!r) {
      r = {
        reader: new FragmentReader({ maxBlob: this.maxMessageSize, views: true }), // each whole message is decoded at once
        defrag: new Defragmenter({ maxMessageSize: this.maxMessageSize }),
      };
      this.readers.set(key, r);
    }
    for (const f of r.reader.push(payload.data)) {
      const blob = r.defrag.add(f);
      if (blob) this.processMessage(decodeMessage(blob));
    }
  }

  /** the last pipeline id receiveData was given and its key (a stream's payloads carry the same id, lower-case) */
  private lastIdIn: string | undefined = undefined;
  private lastKeyIn = '';

  /** The next event, or undefined when more data is needed. */
  nextEvent(): PSRPEvent | undefined {
    return this.events.shift();
  }

  /** @internal */ _body(m: PSRPMessage): ClixmlValue {
    if (!m.data.length) return null;
    return deserialize(fromUtf8(m.data), { cipher: this.sessionCipher, maxLength: this.maxMessageSize });
  }

  /** @internal */
  processMessage(m: PSRPMessage): void {
    if (debug.enabled) debug('psrp < %s %s %d bytes', messageTypeName(m.messageType), m.pid, m.data.length);
    if (m.destination !== Destination.Client)
      throw new RemoteProtocolError(
        `PSRP message ${messageTypeName(m.messageType)} is addressed to the server, not the client (MS-PSRP 2.2.1)`,
      );
    const handler = HANDLERS[m.messageType as MessageType];
    if (!handler) {
      this.events.push({ type: 'Unknown', message: m });
      return;
    }
    handler.call(this, m);
  }

  /** @internal */ _pipeFor(m: PSRPMessage): ClientPipeline | undefined {
    const p = this.pipelines.get(m.pid);
    if (!p) debug('psrp: message %s for unknown pipeline %s ignored', messageTypeName(m.messageType), m.pid);
    return p;
  }
  /** @internal */ _push(e: PSRPEvent): void {
    this.events.push(e);
  }
  /** @internal drop a closed pipeline's state (its reassembly buffers and anything still queued) */
  _forget(id: string): void {
    this.pipelines.delete(id);
    this.readers.delete(id);
    this.outgoing.delete(id);
  }
  /** @internal */ _onSessionCapability(m: PSRPMessage): void {
    const o = M.asObject(this._body(m), 'SESSION_CAPABILITY');
    const v = (n: string) => M.stringOf(o.get(n)) ?? '';
    this.serverProtocolVersion = v('protocolversion');
    this.serverPSVersion = v('PSVersion');
    if (!this.serverProtocolVersion) throw new RemoteProtocolError('malformed SESSION_CAPABILITY message: no protocolversion');
    if (this.sm.state === RunspacePoolState.NegotiationSent) this.sm.move(RunspacePoolState.NegotiationSucceeded);
    this.events.push({
      type: 'SessionCapability',
      protocolVersion: this.serverProtocolVersion,
      psVersion: this.serverPSVersion,
      serializationVersion: v('SerializationVersion'),
    });
  }
  /** @internal */ _onPoolState(m: PSRPMessage): void {
    const o = M.asObject(this._body(m), 'RUNSPACEPOOL_STATE');
    const state = M.intOf(o.get('RunspaceState'), 'RUNSPACEPOOL_STATE', 'RunspaceState') as RunspacePoolState;
    if (!(state in RunspacePoolState)) throw new RemoteProtocolError(`RUNSPACEPOOL_STATE carries an unknown state ${state}`);
    if (!this.sm.move(state)) {
      if (state === RunspacePoolState.Broken || state === RunspacePoolState.Closed) this.sm.state = state;
      else
        throw new RemoteProtocolError(
          `the server moved the runspace pool from ${RunspacePoolState[this.sm.state]} to ${RunspacePoolState[state]}, which is ` +
            `not allowed (MS-PSRP 3.1.1.1)`,
        );
    }
    const err = o.get('ExceptionAsErrorRecord');
    this.events.push(
      err === undefined ? { type: 'RunspacePoolState', state } : { type: 'RunspacePoolState', state, error: err as ClixmlValue },
    );
  }
  /** @internal */ _onEncryptedSessionKey(m: PSRPMessage): void {
    const o = M.asObject(this._body(m), 'ENCRYPTED_SESSION_KEY');
    const b64 = M.stringOf(o.get('EncryptedSessionKey'));
    if (!b64) throw new RemoteProtocolError('malformed ENCRYPTED_SESSION_KEY message: no EncryptedSessionKey');
    if (!this.keyPair) throw new RemoteProtocolError('the server sent ENCRYPTED_SESSION_KEY although no PUBLIC_KEY was sent');
    const key = decryptSessionKey(fromBase64(b64), this.keyPair.privateKey);
    const c = new SessionKeyCipher(key);
    this.sessionCipher = { encrypt: (b) => toBase64(c.encrypt(b)), decrypt: (t) => c.decrypt(fromBase64(t.trim())) };
    this.keyExchangePending = false;
    this.keyPair = undefined;
    this.events.push({ type: 'SessionKeyReady' });
  }
  /** @internal */ _onHostCall(m: PSRPMessage, pipeline: boolean): void {
    const what = pipeline ? 'PIPELINE_HOST_CALL' : 'RUNSPACEPOOL_HOST_CALL';
    const o = M.asObject(this._body(m), what);
    const ci = M.bigintOf(o.get('ci'), what, 'ci');
    const methodId = M.intOf(o.get('mi'), what, 'mi');
    const info = hostMethod(methodId);
    const call: HostCall = { ci, methodId, methodName: info.name, params: M.listItems(o.get('mp')) as ClixmlValue[] };
    if (pipeline) {
      if (!this._pipeFor(m)) return;
      call.pipelineId = m.pid;
      this.events.push({ type: 'HostCall', call, pipelineId: m.pid });
    } else {
      this.events.push({ type: 'HostCall', call });
    }
  }
}

type Handler = (this: ClientRunspacePool, m: PSRPMessage) => void;
function record(type: RecordStream): Handler {
  return function (m) {
    const p = this._pipeFor(m);
    if (!p) return;
    this._push({ type, pipelineId: p.id, record: this._body(m) });
  };
}
const HANDLERS: Partial<Record<MessageType, Handler>> = {
  [MessageType.SESSION_CAPABILITY]: function (m) {
    this._onSessionCapability(m);
  },
  [MessageType.APPLICATION_PRIVATE_DATA]: function (m) {
    const o = M.asObject(this._body(m), 'APPLICATION_PRIVATE_DATA');
    this.applicationPrivateData = (o.get('ApplicationPrivateData') ?? null) as ClixmlValue;
    this._push({ type: 'ApplicationPrivateData', data: this.applicationPrivateData });
  },
  [MessageType.RUNSPACEPOOL_STATE]: function (m) {
    this._onPoolState(m);
  },
  [MessageType.RUNSPACEPOOL_INIT_DATA]: function (m) {
    const o = M.asObject(this._body(m), 'RUNSPACEPOOL_INIT_DATA');
    this._push({
      type: 'RunspacePoolInitData',
      minRunspaces: M.intOf(o.get('MinRunspaces'), 'RUNSPACEPOOL_INIT_DATA', 'MinRunspaces'),
      maxRunspaces: M.intOf(o.get('MaxRunspaces'), 'RUNSPACEPOOL_INIT_DATA', 'MaxRunspaces'),
    });
  },
  [MessageType.RUNSPACE_AVAILABILITY]: function (m) {
    const o = M.asObject(this._body(m), 'RUNSPACE_AVAILABILITY');
    this._push({
      type: 'RunspaceAvailability',
      ci: M.bigintOf(o.get('ci'), 'RUNSPACE_AVAILABILITY', 'ci'),
      value: (o.get('SetMinMaxRunspacesResponse') ?? null) as ClixmlValue,
    });
  },
  [MessageType.PUBLIC_KEY_REQUEST]: function () {
    this._push({ type: 'PublicKeyRequest' });
  },
  [MessageType.ENCRYPTED_SESSION_KEY]: function (m) {
    this._onEncryptedSessionKey(m);
  },
  [MessageType.USER_EVENT]: function (m) {
    this._push({ type: 'UserEvent', event: this._body(m) });
  },
  [MessageType.RUNSPACEPOOL_HOST_CALL]: function (m) {
    this._onHostCall(m, false);
  },
  [MessageType.PIPELINE_HOST_CALL]: function (m) {
    this._onHostCall(m, true);
  },
  [MessageType.PIPELINE_OUTPUT]: function (m) {
    const p = this._pipeFor(m);
    if (!p) return;
    this._push({ type: 'Output', pipelineId: p.id, value: this._body(m) });
  },
  [MessageType.ERROR_RECORD]: record('Error'),
  [MessageType.WARNING_RECORD]: record('Warning'),
  [MessageType.VERBOSE_RECORD]: record('Verbose'),
  [MessageType.DEBUG_RECORD]: record('Debug'),
  [MessageType.INFORMATION_RECORD]: record('Information'),
  [MessageType.PROGRESS_RECORD]: record('Progress'),
  [MessageType.PIPELINE_STATE]: function (m) {
    const p = this._pipeFor(m);
    if (!p) return;
    const o = M.asObject(this._body(m), 'PIPELINE_STATE');
    const state = M.intOf(o.get('PipelineState'), 'PIPELINE_STATE', 'PipelineState') as PSInvocationState;
    if (!(state in PSInvocationState)) throw new RemoteProtocolError(`PIPELINE_STATE carries an unknown state ${state}`);
    if (!p.sm.move(state))
      throw new RemoteProtocolError(
        `the server moved pipeline ${p.id} from ${PSInvocationState[p.sm.state]} to ${PSInvocationState[state]}, which is not ` +
          `allowed (MS-PSRP 3.1.1.2)`,
      );
    const err = o.get('ExceptionAsErrorRecord');
    this._push(
      err === undefined
        ? { type: 'PipelineState', pipelineId: p.id, state }
        : { type: 'PipelineState', pipelineId: p.id, state, error: err as ClixmlValue },
    );
  },
};

/** MS-PSRP 3.1 client pipeline (a PowerShell object on a pool). */
export class ClientPipeline {
  /** @internal */ readonly sm = new PipelineStateMachine();
  private inputEnded = false;
  constructor(
    readonly pool: ClientRunspacePool,
    readonly id: string,
    readonly spec: M.PipelineSpec,
  ) {}
  get state(): PSInvocationState {
    return this.sm.state;
  }
  get done(): boolean {
    return this.sm.done;
  }

  /** @internal */ requireActive(action: string): void {
    this.sm.require(action, PSInvocationState.Running, PSInvocationState.Stopping);
  }

  /** MS-PSRP 3.1.4.3: queue CREATE_PIPELINE (the transport creates the command, then sends it). */
  start(): void {
    this.sm.require('start the pipeline', PSInvocationState.NotStarted);
    if (this.pool.state !== RunspacePoolState.Opened)
      throw new LocalProtocolError(`cannot start the pipeline: the runspace pool is ${RunspacePoolState[this.pool.state]}`);
    this.pool.queue(MessageType.CREATE_PIPELINE, M.createPipeline(this.spec), this.id);
    this.sm.move(PSInvocationState.Running);
  }

  /** MS-PSRP 2.2.2.17 PIPELINE_INPUT: one message per value. */
  sendInput(values: Iterable<PSValue>): void {
    this.sm.require('send input', PSInvocationState.Running);
    if (this.spec.noInput ?? true)
      throw new LocalProtocolError('the pipeline was created with noInput: create it with noInput false to send input');
    if (this.inputEnded) throw new LocalProtocolError('input was already ended');
    for (const v of values) this.pool.queue(MessageType.PIPELINE_INPUT, v, this.id);
  }

  /** MS-PSRP 2.2.2.18 END_OF_PIPELINE_INPUT. */
  endInput(): void {
    this.sm.require('end input', PSInvocationState.Running);
    if (this.inputEnded) return;
    this.inputEnded = true;
    this.pool.queue(MessageType.END_OF_PIPELINE_INPUT, null, this.id, '');
  }

  /** The transport is sending the stop signal. */
  beginStop(): void {
    if (this.sm.done || this.sm.state === PSInvocationState.Stopping) return;
    this.sm.require('stop the pipeline', PSInvocationState.Running, PSInvocationState.NotStarted);
    if (this.sm.state === PSInvocationState.NotStarted) {
      this.sm.move(PSInvocationState.Stopped);
      return;
    }
    this.sm.move(PSInvocationState.Stopping);
  }

  /** Forget the pipeline in the pool (after the transport closed it). */
  close(): void {
    this.pool._forget(this.id);
  }
}
