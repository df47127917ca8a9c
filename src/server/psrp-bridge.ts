/**
 * One WS-Man PowerShell shell of the endpoint, bridged to a real `pwsh -s -NoLogo -NoProfile` child over the
 * OutOfProc framing (docs/protocol.md, "OutOfProc"; packet codec src/psrp/outofproc-codec.ts).
 *
 *  - Client → pwsh: creationXml / Arguments / Send bytes go out as `<Data>` packets, one un-acked Data per target
 *    (the pool = the zero GUID, each pipeline = its PID), as the server requires; host answers use Stream
 *    'PromptResponse'. `<Command>`, `<Signal>` and `<Close>` wait for their acks.
 *  - pwsh → client: every `<Data>` carries whole PSRP fragments; they are kept per target until a Receive takes them.
 *    Fragments larger than the client's envelope allows are re-split (same ObjectId, renumbered FragmentIds).
 *    A fragment is dropped only once the whole message it belongs to has been delivered, so a client that
 *    Connects after a Disconnect (another process, fresh defragmenter) gets every message whole: nothing lost,
 *    nothing duplicated.
 *  - Messages are decoded only to learn states: the terminal PIPELINE_STATE (the command is Done, then
 *    `<Close>` frees it in pwsh), RUNSPACEPOOL_STATE, and the SESSION_CAPABILITY / APPLICATION_PRIVATE_DATA
 *    kept for a later Connect (MS-PSRP 3.1.4.9 connectResponseXml).
 *  - Memory is bounded per command: each target (the pool, each pipeline) keeps at most 16 MiB for its client; while
 *    one is over that (or all together over 64 MiB) the child's stdout is paused (Block mode). pwsh -s writes every
 *    pipeline to one stdout, so a pause holds the shell's other output too, until that client reads or stops.
 *  - A stop or close of a command discards what its client has not read (`discard`): only a message the client has
 *    begun to receive and the final PIPELINE_STATE are kept, later output of that command is dropped as it
 *    arrives, so the pause ends at once and the Signal is answered without waiting for pwsh's acknowledgement,
 *    as PowerShell's own WinRM plug-in does.
 *    Only undelivered bytes count: fragments already delivered but kept until their (large) message is whole must
 *    not hold back the rest of that message (a deadlock for any single object above 16 MiB).
 */
import { RemoteProtocolError } from '../errors.js';
import { decodeFragments, Defragmenter, encodeFragment, FRAGMENT_HEADER_SIZE, type Fragment } from '../psrp/fragment.js';
import { decodeMessage, MessageType } from '../psrp/message.js';
import {
  encodePacket,
  OutOfProcDecoder,
  OUTOFPROC_POOL_GUID,
  type OutOfProcPacket,
  type OutOfProcStream,
} from '../psrp/outofproc-codec.js';
import { concatBytes, fromUtf8 } from '../util/bytes.js';
import { debug } from '../util/debug.js';
import type { Base64Text } from '../xml/base64-cut.js';
import { waitUntil } from './wait.js';
import { spawnForLogon, type LogonChild } from './spawn.js';
import type { LogonSession } from './logon.js';

/** bytes one target (a command, or the pool) may keep for its client before pwsh's output is paused */
const HIGH_WATER = 16 * 1024 * 1024;
const LOW_WATER = 4 * 1024 * 1024;
/** all targets of a shell together */
const TOTAL_HIGH_WATER = 4 * HIGH_WATER;
const TOTAL_LOW_WATER = 2 * HIGH_WATER;
const ACK_TIMEOUT_MS = 60_000;

export const POOL = OUTOFPROC_POOL_GUID;

interface OutFrag {
  bytes: Uint8Array;
  oid: bigint;
  start: boolean;
  end: boolean;
  terminal: boolean;
  /** MS-PSRP message type of the object this fragment belongs to (0 when unknown) */
  mtype: number;
  /** replayed by the endpoint itself (Connect): never discarded */
  keep?: boolean;
}

/** Output of one target (pool or pipeline) waiting for Receive. */
class OutputTarget {
  frags: OutFrag[] = [];
  /** fragments from the head already handed to the current client */
  sent = 0;
  bytes = 0;
  /** bytes of frags[0..sent): delivered, kept until their message is whole (Connect replays) */
  sentBytes = 0;
  readonly defrag = new Defragmenter();
  /** the terminal PIPELINE_STATE was ingested / delivered */
  terminal = false;
  terminalDelivered = false;
  pipelineState: number | undefined;
  nextFid = new Map<bigint, bigint>();
  /** message type of each object whose fragments are still arriving */
  readonly arriving = new Map<bigint, number>();
  /** a stop or close was asked for: new output is dropped, only the final state (and messages begun) kept */
  discarding = false;
  /** while discarding: objects whose remaining fragments are still kept */
  readonly keepOids = new Set<bigint>();
  /** fragments dropped since the stop (figures for the log) */
  droppedBytes = 0;
  readonly waiters = new Set<() => void>();
  wake(): void {
    for (const w of [...this.waiters]) w();
  }
  get pending(): number {
    return this.frags.length - this.sent;
  }
}

export interface BridgeOptions {
  pwsh: string;
  args: string[];
  /** added to the logon account's clean environment (src/server/spawn.ts) */
  env: Record<string, string>;
  /** names passed from the endpoint's environment (DOTNET_ROOT...) */
  passEnv?: readonly string[];
  /** pwsh runs as this logon's local account (default: the endpoint's own) */
  session?: LogonSession;
  cwd?: string;
  /** largest fragment (header included) a Receive may carry */
  maxFragmentSize: number;
  log?: (line: string) => void;
}

interface SendItem {
  stream: OutOfProcStream;
  /** the bytes, or their base64 text (no whitespace) passed through as it came in a WS-Man Send */
  data: Uint8Array | string;
  written: () => void;
  failed: (e: Error) => void;
}
/** Data waiting for one target: pwsh takes one un-acked `<Data>` per target. */
interface SendQueue {
  items: SendItem[];
  inflight: boolean;
}

/** The command's input is no longer taken: it ended (completed, failed or stopped) or was closed (Windows: InvalidSelectors). */
export class InputEndedError extends Error {
  constructor(readonly pid: string) {
    super(`the command ${pid} has ended and takes no more input`);
  }
}
/** Data still waiting for the previous `<Data>`'s acknowledgement when the Send's OperationTimeout ran out (not written). */
export class SendTimeoutError extends Error {
  constructor(readonly pid: string) {
    super(`PowerShell did not take the input for ${pid} within the OperationTimeout`);
  }
}

/** pwsh did not acknowledge a Command / Signal / Close in time. */
export class AckTimeoutError extends RemoteProtocolError {}

/** The child process edge. Not sans-IO by nature; everything it parses goes through the shared codecs. */
export class PsrpBridge {
  private child: LogonChild | undefined;
  private readonly decoder = new OutOfProcDecoder();
  private readonly targets = new Map<string, OutputTarget>();
  private readonly queues = new Map<string, SendQueue>();
  private readonly ackWaiters = new Map<string, Array<{ resolve: () => void; reject: (e: Error) => void }>>();
  private totalBytes = 0;
  /** delivered-but-uncommitted bytes (sum of the targets' sentBytes) */
  private deliveredBytes = 0;
  private get undeliveredBytes(): number {
    return this.totalBytes - this.deliveredBytes;
  }
  private paused = false;
  private stopping = false;
  /** targets over HIGH_WATER (the reason for a pause) */
  private readonly over = new Set<OutputTarget>();
  /** pipelines closed by the client whose CloseAck has not come yet: their late output is dropped */
  private readonly closed = new Set<string>();
  private stderrTail = '';
  exited = false;
  exitCode: number | null = null;
  poolState: number | undefined;
  /** the server's first SESSION_CAPABILITY and APPLICATION_PRIVATE_DATA messages (whole, for Connect) */
  sessionCapability: Uint8Array | undefined;
  applicationPrivateData: Uint8Array | undefined;
  private readonly exitWaiters: Array<() => void> = [];

  constructor(readonly opts: BridgeOptions) {
    this.target(POOL);
  }

  async start(): Promise<void> {
    // its own process group, killed when pwsh exits: what a pipeline started dies with the shell
    const child = await spawnForLogon(this.opts.session, this.opts.pwsh, ['-s', '-NoLogo', '-NoProfile', ...this.opts.args], {
      cwd: this.opts.cwd,
      env: this.opts.env,
      passEnv: this.opts.passEnv,
      killGroupOnExit: true,
    }).catch((e: NodeJS.ErrnoException) => {
      throw new RemoteProtocolError(
        `cannot start PowerShell (${this.opts.pwsh}): ${e.code ?? e.message}; pass --pwsh PATH or set WINRM_TS_PWSH`,
      );
    });
    this.child = child;
    child.stdin!.on('error', () => undefined);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-2000);
    });
    child.stdout!.on('data', (d: Buffer) => {
      if (this.stopping) return; // the shell is going away: nobody will read it
      let packets: OutOfProcPacket[];
      try {
        packets = this.decoder.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      } catch (e) {
        this.opts.log?.(`psrp: pwsh wrote something that is not OutOfProc framing: ${(e as Error).message}`);
        this.kill();
        return;
      }
      for (const p of packets) {
        try {
          this.onPacket(p);
        } catch (e) {
          this.opts.log?.(`psrp: bad data from pwsh: ${(e as Error).message}`);
          this.kill();
          return;
        }
      }
    });
    child.on('exit', (code) => {
      this.exited = true;
      this.exitCode = code;
      for (const [, ws] of this.ackWaiters) for (const w of ws) w.reject(new RemoteProtocolError(this.exitMessage()));
      this.ackWaiters.clear();
      for (const k of [...this.queues.keys()]) this.failInput(k, new RemoteProtocolError(this.exitMessage()));
      for (const t of this.targets.values()) t.wake();
      for (const w of this.exitWaiters.splice(0)) w();
    });
  }

  exitMessage(): string {
    const tail = this.stderrTail.trim().split('\n').slice(-2).join(' ').slice(0, 300);
    return `the PowerShell host process exited (code ${this.exitCode ?? 'signal'})${tail ? `: ${tail}` : ''}`;
  }

  target(guid: string): OutputTarget {
    const k = guid.toLowerCase();
    let t = this.targets.get(k);
    if (!t) {
      t = new OutputTarget();
      this.targets.set(k, t);
    }
    return t;
  }
  hasTarget(guid: string): boolean {
    return this.targets.has(guid.toLowerCase());
  }
  dropTarget(guid: string): void {
    const k = guid.toLowerCase();
    const t = this.targets.get(k);
    if (!t || k === POOL) return;
    this.totalBytes -= t.bytes;
    this.deliveredBytes -= t.sentBytes;
    this.over.delete(t);
    this.targets.delete(k);
    this.failInput(k, new InputEndedError(k.toUpperCase()));
    this.maybeResume();
  }

  /**
   * A stop or close of a command: drop what its client has not read, keeping only the rest of a message the client
   * has begun to receive and the PIPELINE_STATE messages; from now on its output is dropped as it arrives.
   * The memory is freed at once (a paused pwsh resumes). Returns the bytes dropped.
   */
  discard(guid: string): number {
    const t = this.targets.get(guid.toLowerCase());
    if (!t || guid.toLowerCase() === POOL) return 0;
    t.discarding = true;
    // objects the current client has begun to receive and not finished
    const begun = new Set<bigint>();
    for (let i = 0; i < t.sent; i++) {
      const f = t.frags[i]!;
      if (f.start) begun.add(f.oid);
      if (f.end) begun.delete(f.oid);
    }
    const kept: OutFrag[] = [];
    let sent = 0;
    let freed = 0;
    let freedSent = 0;
    for (let i = 0; i < t.frags.length; i++) {
      const f = t.frags[i]!;
      if (f.keep || f.mtype === MessageType.PIPELINE_STATE || begun.has(f.oid)) {
        kept.push(f);
        if (i < t.sent) sent++;
      } else {
        freed += f.bytes.length;
        if (i < t.sent) freedSent += f.bytes.length;
      }
    }
    t.frags = kept;
    t.sent = sent;
    t.bytes -= freed;
    this.totalBytes -= freed;
    t.droppedBytes += freed;
    t.sentBytes -= freedSent;
    this.deliveredBytes -= freedSent;
    for (const oid of begun) t.keepOids.add(oid);
    for (const [oid, type] of t.arriving) if (type === MessageType.PIPELINE_STATE) t.keepOids.add(oid);
    this.maybeResume();
    t.wake();
    return freed;
  }
  /** PIDs of pipelines that have not been closed. */
  pipelines(): Array<{ pid: string; terminal: boolean }> {
    return [...this.targets.entries()].filter(([k]) => k !== POOL).map(([pid, t]) => ({ pid, terminal: t.terminal }));
  }

  // ---------------- pwsh → client ----------------

  private onPacket(p: OutOfProcPacket): void {
    if (p.type === 'Data') {
      this.ingest(p.psGuid, p.data);
      return;
    }
    if (p.type === 'DataAck') {
      const q = this.queues.get(p.psGuid);
      if (q) {
        q.inflight = false;
        this.pump(p.psGuid);
      }
      return;
    }
    if (p.type === 'CommandAck' || p.type === 'SignalAck' || p.type === 'CloseAck') {
      const key = `${p.type}:${p.psGuid}`;
      const ws = this.ackWaiters.get(key);
      const w = ws?.shift();
      if (ws && !ws.length) this.ackWaiters.delete(key);
      w?.resolve();
      return;
    }
    // Command / Signal / Close from the server side are not expected
    debug('psrp: ignoring %s from pwsh', p.type);
  }

  private ingest(guid: string, data: Uint8Array): void {
    const k = guid.toLowerCase();
    const frags = decodeFragments(data);
    // a pipeline the client closed, or pwsh freed (CloseAck): its late output goes nowhere and must not bring the
    // target back (a fresh defragmenter would see the rest of a message without its start). pwsh may acknowledge
    // the Close of a stopping pipeline before the last output of that pipeline.
    if (this.closed.has(k) || this.freed.has(k)) return;
    const t = this.target(k);
    const max = Math.max(FRAGMENT_HEADER_SIZE + 1, this.opts.maxFragmentSize);
    for (const f of frags) {
      if (f.start)
        t.arriving.set(f.objectId, f.blob.length >= 8 ? new DataView(f.blob.buffer, f.blob.byteOffset + 4, 4).getUint32(0, true) : 0);
      const mtype = t.arriving.get(f.objectId) ?? 0;
      if (f.end) t.arriving.delete(f.objectId);
      const whole = t.defrag.add(f);
      let terminal = false;
      if (whole) terminal = this.onMessage(k, t, whole);
      if (t.discarding) {
        if (f.start && mtype === MessageType.PIPELINE_STATE) t.keepOids.add(f.objectId);
        if (!t.keepOids.has(f.objectId)) {
          t.droppedBytes += f.blob.length;
          if (f.end) t.nextFid.delete(f.objectId);
          continue;
        }
        if (f.end) t.keepOids.delete(f.objectId);
      }
      for (const piece of this.split(t, f, max)) {
        const out: OutFrag = {
          bytes: encodeFragment(piece),
          oid: piece.objectId,
          start: piece.start,
          end: piece.end,
          terminal: false,
          mtype,
        };
        t.frags.push(out);
        t.bytes += out.bytes.length;
        this.totalBytes += out.bytes.length;
      }
      if (terminal) t.frags[t.frags.length - 1]!.terminal = true;
    }
    if (t.bytes - t.sentBytes > HIGH_WATER) this.over.add(t);
    if ((this.over.size || this.undeliveredBytes > TOTAL_HIGH_WATER) && !this.paused && this.child?.stdout) {
      this.paused = true;
      this.child.stdout.pause();
    }
    t.wake();
  }

  /** Re-split a fragment that is too big for the client's envelope (same object, renumbered fragments). */
  private split(t: OutputTarget, f: Fragment, max: number): Fragment[] {
    const room = max - FRAGMENT_HEADER_SIZE;
    let fid = f.start ? 0n : (t.nextFid.get(f.objectId) ?? f.fragmentId);
    const out: Fragment[] = [];
    let off = 0;
    do {
      const blob = f.blob.subarray(off, off + room);
      const first = off === 0;
      off += blob.length;
      const last = off >= f.blob.length;
      out.push({ objectId: f.objectId, fragmentId: fid++, start: f.start && first, end: f.end && last, blob });
    } while (off < f.blob.length);
    if (f.end) t.nextFid.delete(f.objectId);
    else t.nextFid.set(f.objectId, fid);
    return out;
  }

  /** Learn states from a whole message. Returns true when it is a terminal PIPELINE_STATE. */
  private onMessage(guid: string, t: OutputTarget, blob: Uint8Array): boolean {
    const m = decodeMessage(blob);
    const text = () => fromUtf8(m.data);
    switch (m.messageType) {
      case MessageType.SESSION_CAPABILITY:
        this.sessionCapability ??= blob;
        return false;
      case MessageType.APPLICATION_PRIVATE_DATA:
        this.applicationPrivateData ??= blob;
        return false;
      case MessageType.RUNSPACEPOOL_STATE: {
        const s = /<I32 N="RunspaceState">(\d+)<\/I32>/.exec(text());
        if (s) this.poolState = Number(s[1]);
        return false;
      }
      case MessageType.PIPELINE_STATE: {
        const s = /<I32 N="PipelineState">(\d+)<\/I32>/.exec(text());
        if (!s || guid === POOL) return false;
        t.pipelineState = Number(s[1]);
        // 3 Stopped, 4 Completed, 5 Failed (MS-PSRP 2.2.3.5)
        if (t.pipelineState >= 3 && t.pipelineState <= 5) {
          t.terminal = true;
          // pwsh takes no more input for it, and may never acknowledge the `<Data>` in flight (a pipeline that failed
          // while reading its input): the Sends waiting behind it must not wait for ever
          this.failInput(guid, new InputEndedError(guid.toUpperCase()));
          // pwsh keeps the command until it is closed; the session Close waits for every command
          queueMicrotask(() => {
            void this.closePipeline(guid).catch(() => undefined);
          });
          return true;
        }
        return false;
      }
      default:
        return false;
    }
  }

  /**
   * Take undelivered fragments of a target, up to `budget` bytes (at least one fragment), and commit (drop) the
   * fragments of every message that has now been delivered whole.
   */
  take(guid: string, budget: number): { data: Uint8Array; fragments: number; terminalDelivered: boolean } {
    const t = this.target(guid);
    const parts: Uint8Array[] = [];
    let size = 0;
    while (t.sent < t.frags.length) {
      const f = t.frags[t.sent]!;
      if (parts.length && size + f.bytes.length > budget) break;
      parts.push(f.bytes);
      size += f.bytes.length;
      t.sentBytes += f.bytes.length;
      this.deliveredBytes += f.bytes.length;
      if (f.terminal) t.terminalDelivered = true;
      t.sent++;
    }
    // commit: the longest delivered prefix in which every started message has ended
    const open = new Set<bigint>();
    let commit = 0;
    for (let i = 0; i < t.sent; i++) {
      const f = t.frags[i]!;
      if (f.start && !f.end) open.add(f.oid);
      else if (f.end) open.delete(f.oid);
      if (open.size === 0) commit = i + 1;
    }
    if (commit) {
      let freed = 0;
      for (let i = 0; i < commit; i++) freed += t.frags[i]!.bytes.length;
      t.frags.splice(0, commit);
      t.sent -= commit;
      t.bytes -= freed;
      this.totalBytes -= freed;
      t.sentBytes -= freed;
      this.deliveredBytes -= freed;
    }
    this.maybeResume();
    return {
      data: parts.length === 1 ? parts[0]! : concatBytes(...parts),
      fragments: parts.length,
      terminalDelivered: t.terminalDelivered && t.pending === 0,
    };
  }

  /** Put whole single-fragment messages, in this order, in front of a target's undelivered output (Connect replays). */
  inject(guid: string, messages: Array<{ fragment: Uint8Array; oid: bigint }>): void {
    const t = this.target(guid);
    t.frags.splice(
      t.sent,
      0,
      ...messages.map(({ fragment, oid }) => ({ bytes: fragment, oid, start: true, end: true, terminal: false, keep: true, mtype: 0 })),
    );
    for (const { fragment } of messages) {
      t.bytes += fragment.length;
      this.totalBytes += fragment.length;
    }
    t.wake();
  }

  /** A new client (Connect) starts with a fresh defragmenter: hand out every uncommitted fragment again. */
  rewind(): void {
    for (const t of this.targets.values()) {
      t.sent = 0;
      this.deliveredBytes -= t.sentBytes;
      t.sentBytes = 0;
    }
  }

  private maybeResume(): void {
    for (const t of this.over) if (t.bytes - t.sentBytes < LOW_WATER) this.over.delete(t);
    if (this.paused && !this.over.size && this.undeliveredBytes < TOTAL_LOW_WATER && this.child?.stdout) {
      this.paused = false;
      this.child.stdout.resume();
    }
  }
  /** pwsh's output is held because a client does not read (figures for tests and the log) */
  get outputPaused(): boolean {
    return this.paused;
  }

  /** Wait until the target has undelivered data, the pipeline is done, pwsh exited, or ms/abort. */
  wait(guid: string, ms: number, signal: AbortSignal): Promise<void> {
    const t = this.target(guid);
    return waitUntil(() => t.pending > 0 || this.exited, t.waiters, ms, signal);
  }

  // ---------------- client → pwsh ----------------

  private write(line: string): void {
    const stdin = this.child?.stdin;
    if (!stdin || this.exited || stdin.destroyed) throw new RemoteProtocolError(this.exitMessage());
    stdin.write(line);
  }

  /**
   * Queue Data for a target; resolves when it has been written (one un-acked Data per target). Rejects with
   * InputEndedError when the command has ended or is closed before that, with SendTimeoutError (the data taken
   * off the queue, never written) when `timeoutMs` passes first, and with RemoteProtocolError when pwsh exits.
   */
  sendData(guid: string, data: Uint8Array | Base64Text, stream: OutOfProcStream = 'Default', timeoutMs?: number): Promise<void> {
    if (!data.length) return Promise.resolve();
    if (this.exited) return Promise.reject(new RemoteProtocolError(this.exitMessage()));
    const k = guid.toLowerCase();
    if (k !== POOL && this.targets.get(k)?.terminal) return Promise.reject(new InputEndedError(k.toUpperCase()));
    let q = this.queues.get(k);
    if (!q) {
      q = { items: [], inflight: false };
      this.queues.set(k, q);
    }
    const queue = q;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const item: SendItem = {
        stream,
        data,
        written: () => {
          clearTimeout(timer);
          resolve();
        },
        failed: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      queue.items.push(item);
      this.pump(k);
      if (timeoutMs !== undefined && queue.items.includes(item)) {
        timer = setTimeout(() => {
          const i = queue.items.indexOf(item);
          if (i < 0) return;
          queue.items.splice(i, 1);
          reject(new SendTimeoutError(k.toUpperCase()));
        }, timeoutMs);
      }
    });
  }

  /** The target's waiting input is refused with `e` and its queue forgotten (a reused command id starts afresh). */
  private failInput(k: string, e: Error): void {
    const q = this.queues.get(k);
    if (!q) return;
    this.queues.delete(k);
    for (const item of q.items.splice(0)) item.failed(e);
  }

  private pump(k: string): void {
    const q = this.queues.get(k);
    if (!q || q.inflight) return;
    const item = q.items.shift();
    if (!item) return;
    q.inflight = true;
    try {
      const d = item.data;
      // base64 from the client goes to pwsh as it came: no decode and re-encode of every byte
      this.write(
        typeof d === 'string'
          ? `<Data Stream='${item.stream}' PSGuid='${k}'>${d}</Data>\n`
          : encodePacket({ type: 'Data', stream: item.stream, psGuid: k, data: d }),
      );
    } catch (e) {
      item.failed(e as Error);
      return;
    }
    item.written();
  }

  private waitAck(
    type: 'CommandAck' | 'SignalAck' | 'CloseAck',
    guid: string,
    packet: 'Command' | 'Signal' | 'Close',
    timeoutMs = ACK_TIMEOUT_MS,
  ): Promise<void> {
    const k = guid.toLowerCase();
    const key = `${type}:${k}`;
    return new Promise<void>((resolve, reject) => {
      if (this.exited) {
        reject(new RemoteProtocolError(this.exitMessage()));
        return;
      }
      const timer = setTimeout(() => {
        const ws = this.ackWaiters.get(key);
        const i = ws?.indexOf(entry) ?? -1;
        if (ws && i >= 0) ws.splice(i, 1);
        reject(new AckTimeoutError(`PowerShell did not acknowledge ${packet} for ${k} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const entry = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const ws = this.ackWaiters.get(key) ?? [];
      ws.push(entry);
      this.ackWaiters.set(key, ws); // registered before writing: no race with a fast ack
      try {
        this.write(encodePacket({ type: packet, psGuid: k }));
      } catch (e) {
        entry.reject(e as Error);
      }
    });
  }

  /** `<Command>` → CommandAck: pwsh now accepts Data for this pipeline (AckTimeoutError after `timeoutMs`). */
  async command(pid: string, timeoutMs = ACK_TIMEOUT_MS): Promise<void> {
    await this.closedFully(pid);
    this.freed.delete(pid.toLowerCase());
    this.closed.delete(pid.toLowerCase());
    this.queues.delete(pid.toLowerCase());
    this.target(pid);
    await this.waitAck('CommandAck', pid, 'Command', Math.min(timeoutMs, ACK_TIMEOUT_MS));
  }
  /**
   * `<Signal>`: stop the pipeline (MS-PSRP stop; the WS-Man code `powershell/signal/crtl_c`). The output the client
   * has not read is discarded first, and the call returns once the packet is written: the SignalAck is not waited
   * for (pwsh acknowledges when the pipeline has stopped; PowerShell's WinRM plug-in does not wait either).
   * The promise resolves when pwsh acknowledges (or rejects), for callers that want to know.
   */
  signal(pid: string): { acked: Promise<void> } {
    this.discard(pid);
    const acked = this.waitAck('SignalAck', pid, 'Signal');
    acked.catch(() => undefined);
    return { acked };
  }

  private readonly closing = new Map<string, Promise<void>>();
  /** `<Close>` → CloseAck: pwsh frees the pipeline (required before the pool can close). Idempotent until acked. */
  closePipeline(pid: string): Promise<void> {
    const k = pid.toLowerCase();
    if (this.freed.has(k)) return Promise.resolve();
    let p = this.closing.get(k);
    if (!p) {
      p = this.waitAck('CloseAck', k, 'Close', 15_000)
        .then(() => {
          this.freed.add(k);
        })
        .finally(() => {
          this.closing.delete(k);
          this.closed.delete(k);
        });
      this.closing.set(k, p);
    }
    return p;
  }
  /** pipelines pwsh has freed (CloseAck); an id is taken off when a client reuses it */
  private readonly freed = new Set<string>();

  /**
   * The client closed a command (a Signal other than stop, or Delete of the command): its unread output is
   * dropped, later output from pwsh for it too, and pwsh is told to free it. Returns at once; the promise of the
   * CloseAck is returned for callers that want to wait.
   */
  abandon(pid: string): { acked: Promise<void> } {
    const k = pid.toLowerCase();
    this.dropTarget(k);
    if (!this.freed.has(k)) this.closed.add(k);
    const acked = this.closePipeline(k);
    acked.catch(() => undefined);
    return { acked };
  }

  /** Wait until an earlier Close of this command id has been acknowledged (a client may reuse the id). */
  async closedFully(pid: string): Promise<void> {
    const p = this.closing.get(pid.toLowerCase());
    if (p) await p.catch(() => undefined);
  }

  kill(): void {
    const c = this.child;
    if (!c || this.exited) return;
    try {
      c.stdin?.end();
    } catch {
      /* gone */
    }
    try {
      c.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }

  /** Close stdin (pwsh exits on EOF), kill after a grace period. */
  async stop(graceMs = 2000): Promise<void> {
    const c = this.child;
    if (!c || this.exited) return;
    const exited = new Promise<void>((r) => this.exitWaiters.push(r));
    // a pwsh blocked on a paused stdout could not see the end of its input
    this.stopping = true;
    if (this.paused) {
      this.paused = false;
      c.stdout?.resume();
    }
    try {
      c.stdin?.end();
    } catch {
      /* gone */
    }
    const t = setTimeout(() => {
      try {
        c.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }, graceMs);
    await exited;
    clearTimeout(t);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }
}
