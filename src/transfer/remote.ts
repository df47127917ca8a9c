/**
 * What the transfer needs from a Session (kept to an interface so src/transfer depends on no concrete transport):
 * run a script with parameters and input, read its events; plus how big a chunk may be on this transport.
 */
import { AbortError, RemoteCommandError, WinRMError } from '../errors.js';
import { PSObject, PSPrimitive, toPlain, type ClixmlValue, type PSValue } from '../clixml/index.js';
import type { InvokeEvent, InvokeOptions } from '../client/invoke.js';
import type { PoolTransport } from '../remoting/transport.js';
import { PSInvocationState } from '../psrp/state.js';
import { remoteTransferError } from './errors.js';

export interface TransferSession {
  readonly transport: PoolTransport;
  stream(script: string, opts?: InvokeOptions): AsyncGenerator<InvokeEvent, void, undefined>;
}

/** PSRP fragment header (MS-PSRP 2.2.4) + message header (2.2.1) + `<BA></BA>`, and some slack. */
const MESSAGE_OVERHEAD = 21 + 40 + 9 + 128;
/** Chunk size on byte-stream transports (pwsh -s, SSH): their fragments are 32 KiB; 256 KiB keeps the pipe full. */
const STREAM_CHUNK = 256 * 1024;
/**
 * Over SSH, 1 MiB: the remote pwsh runs the script's `process {}` block once per chunk and that, not the link, is
 * what a copy waits for (32 MiB: 4.5-5.5 s of remote pwsh CPU with 1 MiB chunks, 5.1-8.5 s with 256 KiB; see
 * bench/results/2026-11-30-transfer-ssh.md).
 */
const SSH_CHUNK = 1024 * 1024;

/**
 * The largest chunk (bytes of file data) whose PIPELINE_INPUT / output message fits in one fragment of this
 * transport: for WS-Man one envelope (MaxEnvelopeSize, after the 4/3 of base64 twice: CLIXML `<BA>` inside the
 * base64 of the SOAP stream), else a fixed 256 KiB (1 MiB over SSH).
 */
export function chunkSizeFor(session: TransferSession): number {
  const t = session.transport as PoolTransport & { runspacePool?: { payloadSize?: number } };
  const payload = t.runspacePool?.payloadSize;
  if (typeof payload === 'number' && payload > 8192) return Math.floor((payload - MESSAGE_OVERHEAD) / 4) * 3;
  return session.transport.kind === 'ssh' ? SSH_CHUNK : STREAM_CHUNK;
}

/** Short text of an error record / exception value. */
export function describeValue(v: ClixmlValue | undefined): string {
  if (v instanceof PSObject) return v.toStringValue ?? String(v.get('Message') ?? v.typeNames[0] ?? 'error');
  return String(v ?? '');
}

/** The typed error for a failed transfer script (its WTX1 text), or a RemoteCommandError. */
export function scriptFailure(what: string, records: ClixmlValue[]): Error {
  for (const r of records) {
    const e = remoteTransferError(describeValue(r));
    if (e) return e;
  }
  const text = records.map(describeValue).filter(Boolean).join('; ');
  return new RemoteCommandError(`${what} failed on the remote host${text ? `: ${text}` : ''}`, records[0]);
}

/** The bytes of a byte[] output object, else undefined. */
export function bytesOf(v: ClixmlValue): Uint8Array | undefined {
  if (v instanceof PSPrimitive && v.tag === 'BA') return v.value as Uint8Array;
  if (v instanceof Uint8Array) return v;
  return undefined;
}

/** A number out of an Int32 / Int64 output value. */
export function numberOf(v: ClixmlValue): number | undefined {
  const p = toPlain(v as PSValue);
  if (typeof p === 'number') return p;
  return undefined;
}

/** A property bag out of a PSCustomObject / hashtable output value. */
export function recordOf(v: ClixmlValue): Record<string, unknown> | undefined {
  const p = toPlain(v as PSValue);
  return p && typeof p === 'object' && !Array.isArray(p) && !(p instanceof Uint8Array) ? (p as Record<string, unknown>) : undefined;
}

/** Run a script to completion and return its output; a failure (error record or Failed state) becomes a typed error. */
export async function runScript(
  session: TransferSession,
  what: string,
  script: string,
  parameters: Record<string, PSValue>,
  signal?: AbortSignal,
): Promise<ClixmlValue[]> {
  const output: ClixmlValue[] = [];
  const errors: ClixmlValue[] = [];
  let failed = false;
  for await (const ev of session.stream(script, { parameters, signal })) {
    if (ev.type === 'output') output.push(ev.value);
    else if (ev.type === 'error') errors.push(ev.record);
    else if (ev.type === 'state' && ev.state === PSInvocationState.Failed) {
      failed = true;
      if (ev.error !== undefined) errors.push(ev.error);
    }
  }
  if (signal?.aborted) throw signal.reason instanceof WinRMError ? signal.reason : new AbortError(`${what} was aborted`);
  if (failed || errors.length) throw scriptFailure(what, errors);
  return output;
}

/** A promise-based wake-up: `wait()` resolves at the next `wake()`. */
export class Signal {
  private waiters: Array<() => void> = [];
  wait(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }
  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
