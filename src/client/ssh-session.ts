/**
 * `Session.open({ transport: 'ssh', computerName, username, ... })`: PSRP over the SSH `powershell` subsystem for
 * the Session (src/client/session.ts). `computerName` is `host`, `host:port` or `[v6addr]:port` (`host` stays the
 * PowerShell host handler, as for the 'wsman' transport).
 *
 *   const s = await Session.open({ transport: 'ssh', computerName: 'srv:22', username: 'alice',
 *     privateKeyPath: '~/.ssh/id_ed25519', knownHostsPath: '~/.ssh/known_hosts' });
 */
import { InvalidArgumentError } from '../errors.js';
import type { SshConnectOptions } from '../remoting/ssh.js';

/** Session options understood by the 'ssh' transport (besides SessionOptions). */
export interface SshSessionOptions extends Partial<Omit<SshConnectOptions, 'host' | 'signal'>> {
  /** host, host:port or [IPv6]:port of the SSH server */
  computerName?: string;
  /** abandons connecting (the Session's `signal`) */
  signal?: AbortSignal;
}

/** Split `host[:port]` (IPv6 in brackets). An explicit `port` option wins. */
export function splitHostPort(s: string, port?: number): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s);
  if (!m) {
    if (s.includes(':') && !s.includes('[')) return { host: s, port: port ?? 22 }; // a bare IPv6 address
    throw new InvalidArgumentError(`not a host name: ${JSON.stringify(s)}`);
  }
  const p = port ?? (m[2] ? Number(m[2]) : 22);
  if (!Number.isInteger(p) || p <= 0 || p > 65535) throw new InvalidArgumentError(`not a TCP port: ${m[2] ?? port}`);
  return { host: m[1]!, port: p };
}

const KEYS: Array<keyof SshSessionOptions> = [
  'username',
  'password',
  'privateKey',
  'privateKeyPath',
  'passphrase',
  'agent',
  'knownHostsPath',
  'knownHosts',
  'insecureHostKey',
  'subsystem',
  'connectTimeout',
  'keepaliveInterval',
  'fragmentSize',
  'onWarning',
  'jump',
];

/** SshConnectOptions from Session options. */
export function sshOptionsFrom(o: SshSessionOptions): SshConnectOptions {
  if (!o.computerName || typeof o.computerName !== 'string')
    throw new InvalidArgumentError("the 'ssh' transport needs computerName (host[:port] of the SSH server)");
  const { host, port } = splitHostPort(o.computerName, o.port);
  const c: Record<string, unknown> = { host, port, signal: o.signal };
  for (const k of KEYS) if (o[k] !== undefined) c[k] = o[k];
  return c as unknown as SshConnectOptions;
}
