/**
 * The WinRM source for `ps`: `winrm-ts ps -H HOST[:PORT] [--https] -u USER [-p PASS] [--auth basic|negotiate|ntlm|credssp]
 * [--delegate-to wsman/HOST] [--configuration-name NAME] -c SCRIPT | -f FILE [-- ARGS...] [--json]` — PSRP over WS-Man
 * (Session transport 'wsman'). The connection flags mean what they mean for `run` (src/cli/options.ts); -H/-u/-p/--port
 * are shared with --ssh. Uses only the public API.
 */
import { Option, type Command } from 'commander';
import { InvalidArgumentError, type SessionOptions } from '../../index.js';
import { connectionFromOptions, type ConnectionFlags } from '../options.js';

const collect = (v: string, prev: string[] = []) => prev.concat([v]);
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got ${v}`);
  return n;
};

/** Add the WinRM connection flags to `ps` (call before addSshOptions, which reuses -H/-u/-p/--port). */
export function addWinrmOptions(cmd: Command): Command {
  const has = (long: string) => cmd.options.some((o) => o.long === long);
  if (!has('--host')) cmd.option('-H, --host <host[:port]>', 'the remote host (WinRM: port 5985, or 5986 with --https)');
  if (!has('--port')) cmd.option('--port <port>', 'port (overrides host:port)', num('--port'));
  if (!has('--user')) cmd.option('-u, --user <DOMAIN\\user>', 'user name');
  if (!has('--password')) cmd.option('-p, --password <password>', 'password (default: env WINRM_PASSWORD, else a prompt on a TTY)');
  if (!has('--connect-timeout')) cmd.option('--connect-timeout <s>', 'connect timeout, seconds (default 30)', num('--connect-timeout'));
  return cmd
    .option('--https', 'WinRM over HTTPS (certificate verified by default)')
    .addOption(new Option('--auth <mechanism>', 'WinRM: basic | negotiate | ntlm | credssp | kerberos (default: negotiate with a user)'))
    .addOption(new Option('--encryption <mode>', 'WinRM message encryption').choices(['auto', 'always', 'never']).default('auto'))
    .option('--ca <file>', 'trust this CA / self-signed certificate (PEM)')
    .option('--fingerprint <SHA256:hex>', 'pin the server certificate (SHA-256)')
    .option('--insecure', 'do not verify the server certificate (prints a warning)')
    .option('--delegate-to <pattern>', 'CredSSP: allow delegating credentials to wsman/HOST (repeatable)', collect)
    .option('--credssp-min-version <n>', 'CredSSP: lowest server TSRequest version accepted (default 6)', num('--credssp-min-version'))
    .option('--operation-timeout <s>', 'WS-Man OperationTimeout, seconds (default 20)', num('--operation-timeout'))
    .option('--read-timeout <s>', 'HTTP read timeout, seconds (default operation + 10)', num('--read-timeout'))
    .option('--configuration-name <name>', 'session configuration (default Microsoft.PowerShell; e.g. a JEA endpoint)');
}

export const WINRM_SESSION_SOURCE = {
  name: 'winrm',
  matches: (f: Record<string, unknown>) => !!f.host && !f.ssh && !f.local,
  options: async (f: Record<string, unknown>): Promise<SessionOptions> => {
    const conn = await connectionFromOptions(f as unknown as ConnectionFlags);
    return { transport: 'wsman', connection: conn, configurationName: f.configurationName as string | undefined };
  },
};
