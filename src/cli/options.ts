/**
 * The one place the connection flags are declared: `run` (addConnectionOptions), `ps` over WinRM
 * (addTargetOptions + addWinrmOnlyOptions) and `ps --ssh` (addTargetOptions). Usage in a command module:
 *   addConnectionOptions(cmd);  ...  const conn = await connectionFromOptions(cmd.opts());  const client = connect(conn);
 * Password: -p, else env WINRM_PASSWORD, else a prompt on a TTY. Default port 5985 / 5986 with --https.
 * Uses only the public API (src/index.ts).
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { Option, type Command } from 'commander';
// the modules behind the public API (src/index.ts), so that `run` starts without loading every layer
import { InvalidArgumentError } from '../errors.js';
import type { ConnectOptions } from '../client/client.js';
import { quoteArg } from '../client/winrs.js';
import { applyProfile, loadConfig, mergeLayers, profileContext, profileFor, PROFILE_CONTEXT, type ProfileContext } from './config.js';
import { isHostList } from './hosts.js';
import { keyringPassword } from './keyring.js';

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
  if (o.hostRequired)
    cmd.requiredOption(
      '-H, --host <host[:port]>',
      'the WinRM host (port 5985, or 5986 with --https), or a name from the config file; many: a,b,c or @hosts.txt',
    );
  else cmd.option('-H, --host <host[:port]>', 'the remote host (WinRM: port 5985, or 5986 with --https), or a name from the config file');
  // named hosts, defaults and trusted hosts from the config file, applied before the action runs (flags win)
  cmd.hook('preAction', (c) => {
    applyConfig(c);
  });
  return cmd
    .option(
      '--config <file>',
      'config file: named hosts (-H NAME), defaults, trustedHosts (default $XDG_CONFIG_HOME/winrm-ts/config.json, else ' +
        '~/.config/winrm-ts/config.json)',
    )
    .option('--port <port>', 'port (overrides host:port)', num('--port'))
    .option('-u, --user <DOMAIN\\user>', 'user name (DOMAIN\\user, user@domain); none = anonymous / the logged-on user')
    .option('-p, --password <password>', 'password (default: env WINRM_PASSWORD, else a prompt on a TTY)')
    .option(
      '--keyring',
      'no -p / WINRM_PASSWORD: read the password from the OS keyring (secret-tool lookup service winrm-ts user USER) before prompting',
    )
    .option('--connect-timeout <s>', 'TCP/TLS connect timeout, seconds (default 30)', num('--connect-timeout'));
}

/** The flags only WinRM has (auth, message encryption, TLS trust, CredSSP delegation, WS-Man timeouts). */
export function addWinrmOnlyOptions(cmd: Command): Command {
  return (
    cmd
      .option('--https', 'use HTTPS (certificate verified by default)')
      .addOption(
        new Option('--auth <mechanism>', 'basic | negotiate | ntlm | credssp | kerberos | certificate (default: negotiate with a user)'),
      )
      .addOption(new Option('--encryption <mode>', 'WinRM message encryption').choices(['auto', 'always', 'never']).default('auto'))
      .option('--ca <file>', 'trust this CA / self-signed certificate (PEM)')
      .option(
        '--fingerprint <digest>',
        'pin the server certificate: SHA256:<hex>, AA:BB:... (openssl), 64 hex digits, or a SHA-1 thumbprint (40 hex, weaker)',
      )
      .option('--insecure', 'do not verify the server certificate (prints a warning)')
      .option(
        '--tls-server-name <name>',
        'verify the server certificate against NAME (and send it as SNI) instead of the -H address, e.g. when connecting by IP',
      )
      .option('--allow-unencrypted', 'allow Basic over plain HTTP: the password crosses the network in clear text (use --https instead)')
      .option('--delegate-to <pattern>', 'CredSSP: allow delegating credentials to wsman/HOST (repeatable)', collect)
      .option('--credssp-min-version <n>', 'CredSSP: lowest server TSRequest version accepted (default 6)', num('--credssp-min-version'))
      // Kerberos
      .option('--spn <spn>', 'Kerberos service principal (default HTTP/<host>; needed when connecting by IP address)')
      .option(
        '--kerberos-delegate',
        'Kerberos: send a forwarded TGT so the server can make the second hop as you, when the KDC marks the service ok-as-delegate',
      )
      .option('--kerberos-delegate-always', 'Kerberos: send the forwarded TGT even when the service is not marked ok-as-delegate')
      .option('--no-ntlm-fallback', 'Negotiate: use Kerberos only, never fall back to NTLM')
      .option('--operation-timeout <s>', 'WS-Man OperationTimeout, seconds (default 20)', num('--operation-timeout'))
      .option('--read-timeout <s>', 'HTTP read timeout, seconds (default operation + 10)', num('--read-timeout'))
      // certificate authentication (HTTPS only) and proxies
      .option('--cert <file>', 'client certificate (PEM) for --auth certificate (HTTPS only)')
      .option('--cert-key <file>', "private key of --cert (PEM; an encrypted key's passphrase from env WINRM_CERT_PASSPHRASE)")
      .option('--cert-p12 <file>', 'client certificate + key as PKCS#12 (passphrase: env WINRM_CERT_PASSPHRASE, else a prompt)')
      .option(
        '--proxy <url>',
        'http://[user@]host:port (CONNECT) or socks5[h]://host:port; default HTTPS_PROXY / HTTP_PROXY; "" = none (proxy password: env WINRM_PROXY_PASSWORD)',
      )
      .option('--noproxy <hosts>', 'hosts that bypass the proxy (comma-separated, NO_PROXY syntax; * = all)')
  );
}

/** --cert/--cert-key/--cert-p12 → ConnectOptions.clientCertificate (files read here; passphrase from env or a prompt). */
async function clientCertificateFrom(f: ConnectionFlags): Promise<ConnectOptions['clientCertificate']> {
  const read = (p: string, what: string) => {
    try {
      return readFileSync(p);
    } catch (e) {
      throw new InvalidArgumentError(`cannot read ${what} ${p}: ${(e as Error).message}`);
    }
  };
  const passphrase = process.env.WINRM_CERT_PASSPHRASE;
  if (f.certP12) {
    if (f.cert || f.certKey) throw new InvalidArgumentError('give either --cert-p12 or --cert with --cert-key, not both');
    const pfx = read(f.certP12, '--cert-p12');
    if (passphrase !== undefined) return { pfx, passphrase };
    try {
      createSecureContext({ pfx });
      return { pfx };
    } catch {
      /* encrypted: ask */
    }
    if (!process.stdin.isTTY)
      throw new InvalidArgumentError(
        `the PKCS#12 file ${f.certP12} needs a passphrase: set WINRM_CERT_PASSPHRASE (stdin is not a terminal)`,
      );
    return { pfx, passphrase: await readHidden(`Passphrase for ${f.certP12}: `, () => new InvalidArgumentError('cancelled')) };
  }
  if (!f.cert && !f.certKey) return undefined;
  if (!f.cert || !f.certKey)
    throw new InvalidArgumentError('--cert and --cert-key go together (PEM certificate and its private key); or use --cert-p12');
  return { cert: read(f.cert, '--cert'), key: read(f.certKey, '--cert-key'), passphrase };
}

export interface ConnectionFlags {
  host: string;
  https?: boolean;
  port?: number;
  user?: string;
  password?: string;
  auth?: string;
  encryption?: 'auto' | 'always' | 'never';
  ca?: string;
  fingerprint?: string;
  insecure?: boolean;
  delegateTo?: string[];
  credsspMinVersion?: number;
  connectTimeout?: number;
  operationTimeout?: number;
  readTimeout?: number;
  allowUnencrypted?: boolean;
  spn?: string;
  kerberosDelegate?: boolean;
  kerberosDelegateAlways?: boolean;
  ntlmFallback?: boolean;
  cert?: string;
  certKey?: string;
  certP12?: string;
  proxy?: string;
  noproxy?: string;
  tlsServerName?: string;
  config?: string;
  keyring?: boolean;
}

/**
 * USER's password when neither -p nor WINRM_PASSWORD gave one: the OS keyring when asked for (--keyring, or
 * "keyring": true in the config file), else a prompt on a terminal.
 */
export async function askPassword(user: string, f: object, prompt = `Password for ${user}: `): Promise<string> {
  if ((f as { keyring?: unknown }).keyring === true) {
    const p = await keyringPassword(user);
    if (p !== undefined) return p;
  }
  return promptPassword(prompt);
}

/**
 * The preAction hook of every command with -H: load the config file (--config, else the default path), apply its
 * `defaults`, and for one -H NAME the profile NAME (its address and settings); flags given on the command line win
 * (commander's option-value source tells them from built-in defaults). For a host list (-H a,b,c / @file) each name
 * is resolved when its connection is made (hostFlags in hosts.ts). The context rides on the values (PROFILE_CONTEXT).
 */
export function applyConfig(cmd: Command): void {
  const values = cmd.opts() as Record<string | symbol, unknown>;
  const keys = cmd.options.map((o) => o.attributeName());
  const explicit = new Set(
    keys.filter((k) => {
      const src = cmd.getOptionValueSource(k);
      return src === 'cli' || src === 'env';
    }),
  );
  const host = values.host as string | undefined;
  if (host === undefined && values.config === undefined) return; // --local: no remote host, no config needed
  const config = loadConfig(values.config as string | undefined);
  const ctx: ProfileContext = {
    config,
    explicit,
    known: new Set(keys),
    single: host !== undefined && !isHostList(host),
    command: cmd.name(),
  };
  values[PROFILE_CONTEXT] = ctx;
  if (!config) return;
  mergeLayers(values, [config.defaults], explicit, ctx.known);
  if (ctx.single) {
    const r = profileFor(config, host!);
    if (r) applyProfile(values, host!, r, ctx);
  }
}

/** Read a password from the TTY without echo. */
export async function promptPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) throw new InvalidArgumentError('no password: pass -p PASSWORD or set WINRM_PASSWORD (stdin is not a terminal)');
  return readHidden(prompt, () => new InvalidArgumentError('cancelled'));
}

/**
 * Read one line from stdin (a TTY) in raw mode, without echo: backspace edits, Enter ends, Ctrl-C rejects with
 * `cancelled()`. stdin is left as it was found: raw mode off, reading stopped, and its flowing state restored (a
 * stream never read before goes back to "not yet flowing", so a later `on('data')` — `run -- cat` — starts it
 * again; after a plain pause() it would not); keys typed after Enter are put back for the next reader.
 */
export function readHidden(prompt: string, cancelled: () => Error): Promise<string> {
  const stdin = process.stdin;
  const flowing = stdin.readableFlowing;
  const wasRaw = stdin.isRaw;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let pw = '';
    const onData = (d: Buffer) => {
      const chars = [...d.toString('utf8')];
      for (let i = 0; i < chars.length; i++) {
        const ch = chars[i]!;
        if (ch === '\r' || ch === '\n') {
          let rest = chars.slice(i + 1).join('');
          if (ch === '\r' && rest.startsWith('\n')) rest = rest.slice(1);
          done(rest);
          resolve(pw);
          return;
        }
        if (ch === '\u0003') {
          done('');
          reject(cancelled());
          return;
        }
        if (ch === '\u007f' || ch === '\b') pw = pw.slice(0, -1);
        else pw += ch;
      }
    };
    const done = (rest: string) => {
      stdin.off('data', onData);
      stdin.setRawMode(wasRaw);
      stdin.pause();
      if (rest) stdin.unshift(Buffer.from(rest, 'utf8'));
      if (flowing !== false) (stdin as { readableFlowing: boolean | null }).readableFlowing = flowing;
      if (flowing === true) stdin.resume();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

export async function connectionFromOptions(f: ConnectionFlags): Promise<ConnectOptions> {
  let password = f.password ?? process.env.WINRM_PASSWORD;
  if (f.user && password === undefined) password = await askPassword(f.user, f);
  let ca: string | undefined;
  if (f.ca?.trimStart().startsWith('-----BEGIN'))
    ca = f.ca; // PEM text from a config file
  else if (f.ca) {
    try {
      ca = readFileSync(f.ca, 'utf8');
    } catch (e) {
      throw new InvalidArgumentError(`cannot read --ca ${f.ca}: ${(e as Error).message}`);
    }
  }
  const envDelegate =
    process.env.WINRM_TS_DELEGATE_TO?.split(',')
      .map((s) => s.trim())
      .filter(Boolean) ?? [];
  const delegateTo = [...(f.delegateTo ?? []), ...envDelegate];
  return {
    host: f.host,
    port: f.port,
    https: !!f.https,
    username: f.user,
    password,
    auth: f.auth,
    encryption: f.encryption,
    ca,
    fingerprint: f.fingerprint,
    insecure: !!f.insecure,
    allowUnencrypted: !!f.allowUnencrypted,
    delegateTo: delegateTo.length ? delegateTo : undefined,
    credsspMinVersion: f.credsspMinVersion,
    connectTimeout: f.connectTimeout,
    operationTimeout: f.operationTimeout,
    readTimeout: f.readTimeout,
    spn: f.spn,
    kerberosDelegate: f.kerberosDelegateAlways ? 'always' : !!f.kerberosDelegate,
    ntlmFallback: f.ntlmFallback !== false,
    clientCertificate: await clientCertificateFrom(f),
    proxy: f.proxy,
    noProxy: f.noproxy,
    tlsServerName: f.tlsServerName,
    ...trustedHostsFrom(profileContext(f)),
    onWarning: (m) => process.stderr.write(`winrm-ts: warning: ${m}\n`),
  };
}

/** The config file's trustedHosts (undefined when it has none: no policy). */
function trustedHostsFrom(ctx: ProfileContext | undefined): Pick<ConnectOptions, 'trustedHosts' | 'trustedHostsSource'> {
  const c = ctx?.config;
  return c?.trustedHosts ? { trustedHosts: c.trustedHosts, trustedHostsSource: `"trustedHosts" in ${c.path}` } : {};
}

/** Quote one argument for a remote command line (the library's rule: src/client/winrs.ts). */
export { quoteArg };
