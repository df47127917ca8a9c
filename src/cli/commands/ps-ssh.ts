/**
 * `winrm-ts ps --ssh -H HOST[:PORT] -u USER [--ssh-key FILE | -p PASSWORD] [--known-hosts FILE] [--insecure-host-key]
 * -c SCRIPT`: the SSH source for `ps` (PSRP over the server's `powershell` subsystem). -H / -u / -p / --port /
 * --connect-timeout are shared with the WinRM flags (src/cli/options.ts).
 * Password: -p, else env WINRM_PASSWORD, else a prompt on a TTY (only when no key is given). Uses only the public API.
 */
import { Option, type Command } from 'commander';
import { InvalidArgumentError, parseJumpHost, type SessionOptions } from '../../index.js';
import { addTargetOptions, askPassword } from '../options.js';
import { hostFlags } from '../hosts.js';

export interface SshFlags {
  ssh?: boolean;
  host?: string;
  port?: number | string;
  user?: string;
  password?: string;
  sshKey?: string;
  knownHosts?: string;
  insecureHostKey?: boolean;
  connectTimeout?: number | string;
  sshJump?: string;
  [flag: string]: unknown;
}

/** Add the SSH flags; -H/-u/-p/--port/--connect-timeout come from src/cli/options.ts (once, whichever source adds them first). */
export function addSshOptions(cmd: Command): Command {
  return addTargetOptions(cmd, { hostRequired: false })
    .option('--ssh', "PSRP over SSH (the server's `powershell` subsystem, PowerShell 7 -HostName) instead of WinRM; port 22")
    .option('--ssh-key <file>', 'SSH: private key file (OpenSSH or PEM; passphrase from env WINRM_SSH_PASSPHRASE)')
    .option('--known-hosts <file>', 'SSH: known_hosts file to check the host key against (default ~/.ssh/known_hosts)')
    .addOption(new Option('--insecure-host-key', 'SSH: do not check the host key (prints a warning)'))
    .option('--ssh-jump <[user@]host[:port]>', 'SSH: reach -H through this jump host (like ssh -J; same credentials and known_hosts)');
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
  async options(given: SshFlags): Promise<SessionOptions> {
    // a name of the config file (one host of a list; one -H is resolved already)
    const f = given.host ? hostFlags(given, given.host) : given;
    if (!f.host) throw new InvalidArgumentError('--ssh needs -H HOST[:PORT]');
    if (!f.user) throw new InvalidArgumentError('--ssh needs -u USER');
    const t = splitTarget(f.host);
    const port = f.port !== undefined ? Number(f.port) : (t.port ?? 22);
    let password = f.password ?? process.env.WINRM_PASSWORD;
    if (password === undefined && !f.sshKey && !process.env.SSH_AUTH_SOCK)
      password = await askPassword(f.user, f, `Password for ${f.user}@${t.host}: `);
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
      jump: f.sshJump ? parseJumpHost(f.sshJump) : undefined,
    };
  },
};
