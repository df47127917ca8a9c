/**
 * `winrm-ts serve` flags for the endpoint's limits: Windows' WinRM quotas (winrm/config/winrs and …/service names,
 * Windows' defaults) and the HTTP layer's timeouts and connection caps. See src/server/limits.ts.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../errors.js';
import { DEFAULT_LIMITS, type EndpointLimits } from '../../server/limits.js';

/** flag → [limit, Windows' name (or what it is), unit] */
const FLAGS: Array<[string, keyof EndpointLimits, string]> = [
  ['--max-shells-per-user', 'maxShellsPerUser', 'winrs MaxShellsPerUser: shells (WinRS and PowerShell) one user may have open'],
  [
    '--max-concurrent-operations-per-user',
    'maxConcurrentOperationsPerUser',
    'service MaxConcurrentOperationsPerUser: requests of one user processed at once',
  ],
  ['--max-processes-per-shell', 'maxProcessesPerShell', 'winrs MaxProcessesPerShell: processes of one WinRS shell (sampled from /proc)'],
  ['--max-memory-per-shell-mb', 'maxMemoryPerShellMB', "winrs MaxMemoryPerShellMB: resident MB of one WinRS shell's processes (sampled)"],
  ['--idle-timeout', 'idleTimeoutMs', "winrs IdleTimeout (ms): a WinRS shell's idle timeout and the most a client may ask for"],
  ['--max-idle-timeout', 'maxIdleTimeoutMs', 'PowerShell plug-in MaxIdleTimeoutms: the most a PowerShell shell may ask for'],
  ['--max-connections', 'maxConnections', 'service MaxConnections: connections at once'],
  ['--max-connections-per-address', 'maxConnectionsPerAddress', 'connections at once from one remote address (503 beyond)'],
  ['--header-timeout', 'headersTimeoutMs', "ms to receive a request's headers (HTTP.sys HeaderWait)"],
  ['--request-timeout', 'requestTimeoutMs', 'ms to receive a whole request, body included (HTTP.sys EntityBody)'],
  ['--keep-alive-timeout', 'keepAliveTimeoutMs', 'ms an idle kept-alive connection stays open (HTTP.sys IdleConnection)'],
];

const camel = (flag: string) => flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function addLimitOptions(cmd: Command): Command {
  for (const [flag, key, help] of FLAGS) cmd.option(`${flag} <n>`, `${help} (default ${DEFAULT_LIMITS[key]})`);
  return cmd;
}

export function limitsFromFlags(f: Record<string, unknown>): Partial<EndpointLimits> {
  const out: Partial<EndpointLimits> = {};
  for (const [flag, key] of FLAGS) {
    const raw = f[camel(flag)];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer, got ${String(raw)}`);
    out[key] = n;
  }
  return out;
}
