/**
 * The one place the connection flags are declared: `run` (addConnectionOptions), `ps` over WinRM
 * (addTargetOptions + addWinrmOnlyOptions) and `ps --ssh` (addTargetOptions). Usage in a command module:
 *   addConnectionOptions(cmd);  ...  const conn = await connectionFromOptions(cmd.opts());  const client = connect(conn);
 * Password: -p, else env WINRM_PASSWORD, else a prompt on a TTY. Default port 5985 / 5986 with --https.
 * Uses only the public API (src/index.ts).
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { InvalidArgumentError, type ConnectOptions } from '../index.js';

/** commander accumulator for a repeatable flag. */
export const collect = (v: string, prev: string[] = []) => prev.concat([v]);
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got ${v}`);
  return n;
};

/** All the WinRM connection flags; -H is required (`run`). */
export function addConnectionOptions(cmd: Command): Command {
  return addWinrmOnlyOptions(addTargetOptions(cmd, { hostRequired: true }));
}

/**
 * The flags every remote source shares (`run`, `ps` over WinRM, `ps --ssh`): -H, --port, -u, -p, --connect-timeout.
 * -H is optional for `ps` (it also runs with --local). Adds nothing when -H is already declared, so both `ps`
 * sources may call it.
 */
export function addTargetOptions(cmd: Command, o: { hostRequired: boolean }): Command {
  if (cmd.options.some((opt) => opt.long === '--host')) return cmd;
  if (o.hostRequired) cmd.requiredOption('-H, --host <host[:port]>', 'the WinRM host (port 5985, or 5986 with --https); many: a,b,c or @hosts.txt');
  else cmd.option('-H, --host <host[:port]>', 'the remote host (WinRM: port 5985, or 5986 with --https)');
  return cmd
    .option('--port <port>', 'port (overrides host:port)', num('--port'))
    .option('-u, --user <DOMAIN\\user>', 'user name (DOMAIN\\user, user@domain); none = anonymous / the logged-on user')
    .option('-p, --password <password>', 'password (default: env WINRM_PASSWORD, else a prompt on a TTY)')
    .option('--connect-timeout <s>', 'TCP/TLS connect timeout, seconds (default 30)', num('--connect-timeout'));
}

/** The flags only WinRM has (auth, message encryption, TLS trust, CredSSP delegation, WS-Man timeouts). */
export function addWinrmOnlyOptions(cmd: Command): Command {
  return cmd
    .option('--https', 'use HTTPS (certificate verified by default)')
    .addOption(new Option('--auth <mechanism>', 'basic | negotiate | ntlm | credssp | kerberos (default: negotiate with a user)'))
    .addOption(new Option('--encryption <mode>', 'WinRM message encryption').choices(['auto', 'always', 'never']).default('auto'))
    .option('--ca <file>', 'trust this CA / self-signed certificate (PEM)')
    .option('--fingerprint <SHA256:hex>', 'pin the server certificate (SHA-256)')
    .option('--insecure', 'do not verify the server certificate (prints a warning)')
    .option('--delegate-to <pattern>', 'CredSSP: allow delegating credentials to wsman/HOST (repeatable)', collect)
    .option('--credssp-min-version <n>', 'CredSSP: lowest server TSRequest version accepted (default 6)', num('--credssp-min-version'))
    .option('--operation-timeout <s>', 'WS-Man OperationTimeout, seconds (default 20)', num('--operation-timeout'))
    .option('--read-timeout <s>', 'HTTP read timeout, seconds (default operation + 10)', num('--read-timeout'));
}

export interface ConnectionFlags {
  host: string; https?: boolean; port?: number; user?: string; password?: string; auth?: string;
  encryption?: 'auto' | 'always' | 'never'; ca?: string; fingerprint?: string; insecure?: boolean;
  delegateTo?: string[]; credsspMinVersion?: number; connectTimeout?: number; operationTimeout?: number; readTimeout?: number;
}

/** Read a password from the TTY without echo. */
export async function promptPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) throw new InvalidArgumentError('no password: pass -p PASSWORD or set WINRM_PASSWORD (stdin is not a terminal)');
  return readHidden(prompt, () => new InvalidArgumentError('cancelled'));
}

/** Read one line from stdin (a TTY) in raw mode, without echo: backspace edits, Enter ends, Ctrl-C rejects with `cancelled()`. */
export function readHidden(prompt: string, cancelled: () => Error): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let pw = '';
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') { done(); resolve(pw); return; }
        if (ch === '\u0003') { done(); reject(cancelled()); return; }
        if (ch === '\u007f' || ch === '\b') pw = pw.slice(0, -1); else pw += ch;
      }
    };
    const done = () => { stdin.off('data', onData); stdin.setRawMode(false); stdin.pause(); process.stderr.write('\n'); };
    stdin.on('data', onData);
  });
}

export async function connectionFromOptions(f: ConnectionFlags): Promise<ConnectOptions> {
  let password = f.password ?? process.env.WINRM_PASSWORD;
  if (f.user && password === undefined) password = await promptPassword(`Password for ${f.user}: `);
  let ca: string | undefined;
  if (f.ca) {
    try { ca = readFileSync(f.ca, 'utf8'); } catch (e) { throw new InvalidArgumentError(`cannot read --ca ${f.ca}: ${(e as Error).message}`); }
  }
  const envDelegate = process.env.WINRM_TS_DELEGATE_TO?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
  const delegateTo = [...(f.delegateTo ?? []), ...envDelegate];
  return {
    host: f.host, port: f.port, https: !!f.https, username: f.user, password, auth: f.auth,
    encryption: f.encryption, ca, fingerprint: f.fingerprint, insecure: !!f.insecure,
    delegateTo: delegateTo.length ? delegateTo : undefined, credsspMinVersion: f.credsspMinVersion,
    connectTimeout: f.connectTimeout, operationTimeout: f.operationTimeout, readTimeout: f.readTimeout,
    onWarning: (m) => process.stderr.write(`winrm-ts: warning: ${m}\n`),
  };
}

/** Quote one argument for a remote command line (msvcrt rules; also right for POSIX sh in plain cases). */
export function quoteArg(a: string): string {
  if (a !== '' && !/[\s"'&|<>;()^`$*?!{}[\]#~%]/.test(a)) return a; // plain words and paths go as they are
  let out = '"';
  let bs = 0;
  for (const ch of a) {
    if (ch === '\\') { bs++; continue; }
    if (ch === '"') { out += '\\'.repeat(bs * 2 + 1) + '"'; bs = 0; continue; }
    out += '\\'.repeat(bs) + ch; bs = 0;
  }
  return out + '\\'.repeat(bs * 2) + '"';
}
