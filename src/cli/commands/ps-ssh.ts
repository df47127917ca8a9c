/**
 * `winrm-ts ps --ssh -H HOST[:PORT] -u USER [--ssh-key FILE | -p PASSWORD] [--known-hosts FILE] [--insecure-host-key]
 * -c SCRIPT`: the SSH source for `ps` (PSRP over the server's `powershell` subsystem). -H / -u / -p / --port are
 * shared with the WinRM flags and added here only when no other module defined them yet.
 * Password: -p, else env WINRM_PASSWORD, else a prompt on a TTY (only when no key is given). Uses only the public API.
 */
import { Option, type Command } from 'commander';
import { InvalidArgumentError, type SessionOptions } from '../../index.js';
import { promptPassword } from '../options.js';

export interface SshFlags {
  ssh?: boolean; host?: string; port?: number | string; user?: string; password?: string; sshKey?: string;
  knownHosts?: string; insecureHostKey?: boolean; connectTimeout?: number | string;
  [flag: string]: unknown;
}

const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer, got ${v}`);
  return n;
};

/** Add the SSH flags (and -H/-u/-p/--port/--connect-timeout if nobody added them). Call after the other options. */
export function addSshOptions(cmd: Command): Command {
  const has = (long: string) => cmd.options.some((o) => o.long === long);
  if (!has('--host')) cmd.option('-H, --host <host[:port]>', 'the remote host');
  if (!has('--port')) cmd.option('--port <port>', 'port (overrides host:port)', num('--port'));
  if (!has('--user')) cmd.option('-u, --user <user>', 'user name');
  if (!has('--password')) cmd.option('-p, --password <password>', 'password (default: env WINRM_PASSWORD, else a prompt on a TTY)');
  if (!has('--connect-timeout')) cmd.option('--connect-timeout <s>', 'connect timeout, seconds (default 30)', num('--connect-timeout'));
  return cmd
    .option('--ssh', 'PSRP over SSH (the server\'s `powershell` subsystem, PowerShell 7 -HostName) instead of WinRM; port 22')
    .option('--ssh-key <file>', 'SSH: private key file (OpenSSH or PEM; passphrase from env WINRM_SSH_PASSPHRASE)')
    .option('--known-hosts <file>', 'SSH: known_hosts file to check the host key against (default ~/.ssh/known_hosts)')
    .addOption(new Option('--insecure-host-key', 'SSH: do not check the host key (prints a warning)'));
}

function splitTarget(s: string): { host: string; port?: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s);
  if (!m) return { host: s };
  return m[2] ? { host: m[1]!, port: Number(m[2]) } : { host: m[1]! };
}

/** The `ps` session source for --ssh. */
export const SSH_SESSION_SOURCE = {
  name: 'ssh',
  matches: (f: SshFlags): boolean => !!f.ssh,
  async options(f: SshFlags): Promise<SessionOptions> {
    if (!f.host) throw new InvalidArgumentError('--ssh needs -H HOST[:PORT]');
    if (!f.user) throw new InvalidArgumentError('--ssh needs -u USER');
    const t = splitTarget(f.host);
    const port = f.port !== undefined ? Number(f.port) : t.port ?? 22;
    let password = f.password ?? process.env.WINRM_PASSWORD;
    if (password === undefined && !f.sshKey && !process.env.SSH_AUTH_SOCK) password = await promptPassword(`Password for ${f.user}@${t.host}: `);
    return {
      transport: 'ssh',
      computerName: t.host.includes(':') ? `[${t.host}]` : t.host,
      port,
      username: f.user,
      password,
      privateKeyPath: f.sshKey,
      passphrase: process.env.WINRM_SSH_PASSPHRASE,
      agent: password === undefined && !f.sshKey ? process.env.SSH_AUTH_SOCK : undefined,
      knownHostsPath: f.knownHosts,
      insecureHostKey: !!f.insecureHostKey,
      connectTimeout: f.connectTimeout !== undefined ? Number(f.connectTimeout) : undefined,
      onWarning: (m: string) => process.stderr.write(`winrm-ts: warning: ${m}\n`),
    };
  },
};
