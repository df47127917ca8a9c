/**
 * The endpoint's resource limits: the HTTP layer's (what an unauthenticated peer may cost, timeouts, connection
 * caps) and Windows' WinRM quotas with Windows' names, defaults and faults.
 *
 * Windows' defaults (documented in MS-WSMV 2.2.4.42 WinrsType and "Quota Management for Remote Shells",
 * learn.microsoft.com/windows/win32/winrm/quotas; service quota in `winrm get winrm/config/service`):
 *   MaxShellsPerUser 30 · MaxProcessesPerShell 25 · MaxMemoryPerShellMB 1024 · MaxConcurrentOperationsPerUser 1500
 *   IdleTimeout 7200000 ms (what `winrm get winrm/config/winrs` shows since Windows Server 2012; the schema's older
 *   default is 180000) · the PowerShell plug-in's MaxIdleTimeoutms 2147483647 (Windows echoes PT2147483.647S).
 * Faults (MS-WSMV 3.1.4.5.2.1 wsman:QuotaLimit; codes ERROR_WSMAN_QUOTA_MAX_SHELLS 0x803381A5 and
 * ERROR_WSMAN_QUOTA_MAX_OPERATIONS 0x803381A6; texts as Windows writes them).
 *
 * What is enforced on Linux (no job objects): MaxProcessesPerShell and MaxMemoryPerShellMB are checked by sampling
 * /proc once a second over the process sessions of a WinRS shell's running commands (each command is a session
 * leader: `detached` spawn); a Command that would start beyond MaxProcessesPerShell faults (judged on a scan at most
 * 250 ms old, shared by all shells — a shell with nothing running needs none — and refused only on a fresh one), a
 * shell over the process count has its newest commands stopped, a shell whose resident memory (RSS, summed) exceeds
 * MaxMemoryPerShellMB has its commands stopped, each with a line on the command's stderr. Processes that leave the session (setsid/daemons)
 * escape the count. PowerShell (PSRP) shells are counted for MaxShellsPerUser only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { WsmanFault } from './fault.js';

/** Body bytes read from a request before it is authenticated (NTLM/CredSSP handshake legs carry tokens in the
 *  Authorization header; their bodies are empty or one small envelope). */
export const PRE_AUTH_BODY_LIMIT = 8192;
/** After refusing an oversized unauthenticated request: how long the socket stays half-open (unread) so that the
 *  client can read the answer before the connection is reset. */
export const REFUSE_LINGER_MS = 2000;
/** DSP0226 6.2 / MS-WSMV 3.1.4.1.7: a MaxEnvelopeSize below this is refused with w:EncodingLimit. */
export const MIN_ENVELOPE_SIZE = 8192;

export interface EndpointLimits {
  /** HTTP: ms to receive a request's headers (Node headersTimeout; HTTP.sys HeaderWait) */
  headersTimeoutMs: number;
  /** HTTP: ms to receive a whole request, headers and body (Node requestTimeout; HTTP.sys EntityBody) */
  requestTimeoutMs: number;
  /** HTTP: ms an idle kept-alive connection stays open (HTTP.sys IdleConnection) */
  keepAliveTimeoutMs: number;
  /** connections at once (Windows' service MaxConnections) */
  maxConnections: number;
  /** connections at once from one remote address */
  maxConnectionsPerAddress: number;
  /** winrs MaxShellsPerUser (WinRS and PowerShell shells of one user) */
  maxShellsPerUser: number;
  /** service MaxConcurrentOperationsPerUser: requests of one user being processed at once */
  maxConcurrentOperationsPerUser: number;
  /** winrs MaxProcessesPerShell */
  maxProcessesPerShell: number;
  /** winrs MaxMemoryPerShellMB (resident memory of the shell's processes) */
  maxMemoryPerShellMB: number;
  /** winrs IdleTimeout (ms): a WinRS shell's idle timeout when the client names none, and its maximum */
  idleTimeoutMs: number;
  /** PowerShell plug-in MaxIdleTimeoutms: the largest IdleTimeOut a PowerShell shell may ask for */
  maxIdleTimeoutMs: number;
  /** WinRS stdin bytes buffered for a command that does not read before Send waits (then faults) */
  maxStdinBufferBytes: number;
}

export const DEFAULT_LIMITS: EndpointLimits = {
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 120_000,
  keepAliveTimeoutMs: 120_000,
  maxConnections: 300,
  maxConnectionsPerAddress: 100,
  maxShellsPerUser: 30,
  maxConcurrentOperationsPerUser: 1500,
  maxProcessesPerShell: 25,
  maxMemoryPerShellMB: 1024,
  idleTimeoutMs: 7_200_000,
  maxIdleTimeoutMs: 2_147_483_647,
  maxStdinBufferBytes: 4 * 1024 * 1024,
};

/** Resolve partial limits against the defaults (rejecting nonsense). */
export function resolveLimits(o: Partial<EndpointLimits> | undefined): EndpointLimits {
  const l = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(o ?? {})) {
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      throw new RangeError(`limit ${k} must be a positive number, got ${String(v)}`);
    (l as Record<string, number>)[k] = Math.floor(v);
  }
  if (l.headersTimeoutMs > l.requestTimeoutMs) l.headersTimeoutMs = l.requestTimeoutMs;
  return l;
}

/** "DOMAIN\\user" as a case-insensitive key. */
export const userKey = (identity: { user: string; domain: string }): string => `${identity.domain}\\${identity.user}`.toLowerCase();

// ---- Windows' quota faults ----
export const quotaFaults = {
  maxShells: (max: number) =>
    new WsmanFault({
      code: 's:Sender',
      subcode: 'w:QuotaLimit',
      wsmanCode: 2150859173,
      reason:
        `The WS-Management service cannot process the request. This user is allowed a maximum number of ${max} concurrent shells, ` +
        `which has been exceeded. Close existing shells or raise the quota for this user. `,
    }),
  maxOperations: (max: number) =>
    new WsmanFault({
      code: 's:Sender',
      subcode: 'w:QuotaLimit',
      wsmanCode: 2150859174,
      reason:
        `The WS-Management service cannot process the request. This user is allowed a maximum number of ${max} concurrent ` +
        `operations, which has been exceeded. Close existing operations for this user, or raise the quota for this user. `,
    }),
  /** a job object's process limit makes CreateProcess fail with ERROR_NOT_ENOUGH_QUOTA (1816) */
  maxProcesses: () =>
    new WsmanFault({
      code: 's:Receiver',
      subcode: 'w:InternalError',
      wsmanCode: 2147944216,
      reason: 'Not enough quota is available to process this command. ',
      providerFault:
        '<f:ProviderFault provider="Shell cmd plugin" path="%systemroot%\\system32\\winrscmd.dll">Not enough quota is available ' +
        'to process this command. </f:ProviderFault>',
    }),
};

// ---- per-session process accounting from /proc ----
export interface SessionUsage {
  processes: number;
  rssBytes: number;
}

const PAGE = 4096;

/** Processes and resident bytes per session id (only the sessions asked for; every session when `sids` is
 *  undefined). Linux /proc; empty elsewhere. */
export function sampleSessions(sids: Set<number> | undefined): Map<number, SessionUsage> {
  const out = new Map<number, SessionUsage>();
  if (sids && !sids.size) return out;
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const n of names) {
    if (n.charCodeAt(0) < 48 || n.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${n}/stat`, 'latin1');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    if (close < 0) continue;
    // fields after "pid (comm)": state ppid pgrp session ... rss is field 24 overall (index 21 here)
    const f = stat.slice(close + 2).split(' ');
    const sid = Number(f[3]);
    if (sids ? !sids.has(sid) : sid <= 1) continue;
    if (f[0] === 'Z') continue;
    const u = out.get(sid) ?? { processes: 0, rssBytes: 0 };
    u.processes++;
    u.rssBytes += (Number(f[21]) || 0) * PAGE;
    out.set(sid, u);
  }
  return out;
}

/**
 * One /proc scan shared by every reader for `ttlMs` (the per-Command MaxProcessesPerShell check and the periodic
 * sampler), instead of a scan of every process on the machine for each Command. A session the last scan did not
 * see (a command started after it) counts as its one leader process. A caller about to refuse something asks for
 * a fresh scan (`fresh`), so a refusal never rests on an old count.
 */
export class SessionScanner {
  private usage = new Map<number, SessionUsage>();
  private at = -Infinity;
  /** scans done (tests) */
  scans = 0;
  constructor(
    private readonly ttlMs = 250,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Processes and resident bytes of session `sid` (at least its leader: 1 process, 0 bytes, when not seen). */
  get(sid: number): SessionUsage {
    return this.usage.get(sid) ?? { processes: 1, rssBytes: 0 };
  }

  /** The last scan: session id -> usage (sessions it did not see are absent). */
  snapshot(): ReadonlyMap<number, SessionUsage> {
    return this.usage;
  }

  /** Make sure the scan is at most `ttlMs` old (or new, with `fresh`). */
  refresh(fresh = false): this {
    if (fresh || this.now() - this.at > this.ttlMs) {
      this.usage = sampleSessions(undefined);
      this.at = this.now();
      this.scans++;
    }
    return this;
  }
}
