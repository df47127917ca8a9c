/**
 * PSRP over SSH (PowerShell 7's `Invoke-Command -HostName`): an ssh2 connection, the `powershell` subsystem
 * (`Subsystem powershell /usr/bin/pwsh -sshs -NoLogo` in sshd_config), and on its channel exactly the OutOfProc
 * framing of `pwsh -s` (PowerShell's OutOfProcessUtils packets; not in MS-PSRP), driven by the shared OutOfProcTransport.
 *
 *   const t = await connectSsh({ host: 'srv', username: 'alice', privateKeyPath: '~/.ssh/id_ed25519' });
 *   const s = await Session.open({ transport: t });      // or Session.open({ transport: 'ssh', computerName: ... })
 *
 * Host keys are checked against known_hosts (default ~/.ssh/known_hosts) strictly: unknown, changed or revoked
 * → HostKeyError saying how to trust the key; `insecureHostKey` skips the check with a warning.
 * Auth: password (also answered to keyboard-interactive prompts), private key (OpenSSH/PEM, optional passphrase),
 * or an ssh-agent socket. Wrong credentials → AccessDeniedError.
 */
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { homedir } from 'node:os';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import {
  AbortError,
  AccessDeniedError,
  ConnectError,
  HostKeyError,
  InvalidArgumentError,
  TimeoutError,
  TransportError,
} from '../errors.js';
import { debug } from '../util/debug.js';
import { OutOfProcTransport, type DuplexLike } from './outofproc.js';
import {
  checkHostKey,
  fingerprintSha256,
  keyBlobType,
  knownHostName,
  knownKeyTypes,
  parseKnownHosts,
  type KnownHostEntry,
} from './ssh-known-hosts.js';

export interface SshConnectOptions {
  host: string;
  /** default 22 */
  port?: number;
  username: string;
  password?: string;
  /** private key text (OpenSSH or PEM) */
  privateKey?: string | Uint8Array;
  /** or a file to read it from (`~` expanded) */
  privateKeyPath?: string;
  passphrase?: string;
  /** ssh-agent socket (e.g. process.env.SSH_AUTH_SOCK) */
  agent?: string;
  /** known_hosts file (default ~/.ssh/known_hosts; a missing file knows no host) */
  knownHostsPath?: string;
  /** known_hosts text instead of a file */
  knownHosts?: string;
  /** do not check the host key (a warning goes to onWarning) */
  insecureHostKey?: boolean;
  /** default 'powershell' */
  subsystem?: string;
  /** seconds to wait for the SSH handshake and authentication (default 30) */
  connectTimeout?: number;
  /** seconds between SSH keepalives (default 0 = off) */
  keepaliveInterval?: number;
  /** bytes of PSRP fragments per OutOfProc <Data> packet (default SSH_FRAGMENT_SIZE, 2 MiB) */
  fragmentSize?: number;
  onWarning?: (msg: string) => void;
  signal?: AbortSignal;
  /** a jump host (like `ssh -J user@host:port`): same credentials and known_hosts; the target is reached from there */
  jump?: { host: string; port?: number; username?: string };
}

/** Parse `ssh -J`'s `[user@]host[:port]` (`[v6]:port` too). */
export function parseJumpHost(s: string): { host: string; port?: number; username?: string } {
  const m = /^(?:([^@\s]+)@)?(?:\[([^\]]+)\]|([^:@\s[\]]+))(?::(\d+))?$/.exec(s.trim());
  if (!m) throw new InvalidArgumentError(`--ssh-jump expects [user@]host[:port], got ${s}`);
  const port = m[4] ? Number(m[4]) : undefined;
  if (port !== undefined && (port <= 0 || port > 65535)) throw new InvalidArgumentError(`--ssh-jump: not a TCP port: ${m[4]}`);
  return { host: m[2] ?? m[3]!, port, username: m[1] };
}

const DEFAULT_HOST_KEY_ALGOS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];
/** known_hosts key type → the host key algorithms that produce it */
const ALGOS_OF_TYPE: Record<string, string[]> = { 'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] };

/** Host key algorithms with those of the keys we already know first (OpenSSH does the same). */
export function hostKeyAlgorithms(knownTypes: string[]): string[] {
  const first = knownTypes.flatMap((t) => ALGOS_OF_TYPE[t] ?? [t]).filter((a) => DEFAULT_HOST_KEY_ALGOS.includes(a));
  return [...new Set([...first, ...DEFAULT_HOST_KEY_ALGOS])];
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? homedir() + p.slice(1) : p;
}

export function defaultKnownHostsPath(): string {
  return `${homedir()}/.ssh/known_hosts`;
}

const PIPE_ERROR_PREFIX = new TextEncoder().encode('__NamedPipeError__:');
const MAX_ERROR_LINE = 4096;

/**
 * `pwsh -sshs` writes its own errors to stdout as lines starting `__NamedPipeError__:` (FormattedErrorTextWriter),
 * between OutOfProc packets, followed by the .NET stack trace (lines starting with white space). This splits the
 * error messages out of the byte stream and drops their stack lines (sans-IO, any chunking); every other byte
 * passes through unchanged.
 */
export class SshsOutputFilter {
  private mode: 'start' | 'pass' | 'capture' | 'drop' = 'start';
  private held: number[] = [];
  private captured: number[] = [];
  private afterError = false;

  push(chunk: Uint8Array): { data: Uint8Array[]; errors: string[] } {
    const data: Uint8Array[] = [];
    const errors: string[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.mode === 'capture' || this.mode === 'drop') {
        const nl = chunk.indexOf(0x0a, i);
        const end = nl < 0 ? chunk.length : nl;
        if (this.mode === 'capture') {
          const room = MAX_ERROR_LINE - this.captured.length;
          if (room > 0) for (const b of chunk.subarray(i, Math.min(end, i + room))) this.captured.push(b);
        }
        if (nl < 0) return { data, errors };
        if (this.mode === 'capture') {
          errors.push(new TextDecoder().decode(new Uint8Array(this.captured)).replace(/\r$/, '').trim());
          this.captured = [];
          this.afterError = true;
        }
        this.mode = 'start';
        i = nl + 1;
        continue;
      }
      if (this.mode === 'start') {
        if (this.afterError && !this.held.length && (chunk[i] === 0x20 || chunk[i] === 0x09)) {
          this.mode = 'drop';
          continue;
        }
        let matched = this.held.length;
        let j = i;
        while (matched < PIPE_ERROR_PREFIX.length && j < chunk.length && chunk[j] === PIPE_ERROR_PREFIX[matched]) {
          matched++;
          j++;
        }
        if (matched === PIPE_ERROR_PREFIX.length) {
          this.held = [];
          this.mode = 'capture';
          i = j;
          continue;
        }
        if (j === chunk.length) {
          for (let k = i; k < j; k++) this.held.push(chunk[k]!);
          return { data, errors };
        }
        // not an error line: release what was held and pass the line through
        if (this.held.length) {
          data.push(new Uint8Array(this.held));
          this.held = [];
        }
        this.afterError = false;
        this.mode = 'pass';
        continue;
      }
      const nl = chunk.indexOf(0x0a, i);
      if (nl < 0) {
        data.push(chunk.subarray(i));
        return { data, errors };
      }
      data.push(chunk.subarray(i, nl + 1));
      i = nl + 1;
      this.mode = 'start';
    }
    return { data, errors };
  }
}

/** Open an SSH connection, start the `powershell` subsystem and return an OutOfProc transport over its channel. */
export async function connectSsh(opts: SshConnectOptions): Promise<OutOfProcTransport> {
  if (!opts.host || typeof opts.host !== 'string') throw new InvalidArgumentError('SSH needs a host name');
  if (!opts.username) throw new InvalidArgumentError('SSH needs a user name (-u USER)');
  const port = opts.port ?? 22;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new InvalidArgumentError(`not a TCP port: ${port}`);
  const target = knownHostName(opts.host, port);
  if (opts.signal?.aborted) throw new AbortError('connecting over SSH was aborted');

  let privateKey: string | Buffer | undefined;
  if (opts.privateKey !== undefined) privateKey = typeof opts.privateKey === 'string' ? opts.privateKey : Buffer.from(opts.privateKey);
  else if (opts.privateKeyPath) {
    const p = expandHome(opts.privateKeyPath);
    try {
      privateKey = readFileSync(p);
    } catch (e) {
      throw new InvalidArgumentError(`cannot read the SSH private key ${p}: ${(e as Error).message}`);
    }
  }
  if (opts.password === undefined && privateKey === undefined && !opts.agent) {
    throw new InvalidArgumentError('SSH needs a password, a private key (--ssh-key FILE) or an ssh-agent');
  }

  // known_hosts, unless told not to check
  let entries: KnownHostEntry[] = [];
  const khPath = opts.knownHostsPath ? expandHome(opts.knownHostsPath) : defaultKnownHostsPath();
  const khLabel = opts.knownHosts !== undefined ? 'the given known_hosts' : khPath;
  if (!opts.insecureHostKey) {
    let text = opts.knownHosts;
    if (text === undefined) {
      try {
        text = readFileSync(khPath, 'utf8');
      } catch (e) {
        // a missing file knows no host (every key is "unknown", and the error says how to trust it)
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
          throw new InvalidArgumentError(`cannot read known_hosts ${khPath}: ${(e as Error).message}`);
        text = '';
      }
    }
    const parsed = parseKnownHosts(text);
    for (const s of parsed.skipped) debug('ssh: %s line %d skipped: %s', khLabel, s.line, s.why);
    entries = parsed.entries;
  }

  /** One SSH connection (host key check + authentication), over `sock` when given (a channel of the jump host). */
  const handshake = async (host: string, hostPort: number, username: string, sock?: Duplex): Promise<Client> => {
    const label = knownHostName(host, hostPort);
    let hostKeyFailure: HostKeyError | undefined;
    const hostVerifier = (key: Buffer): boolean => {
      const type = keyBlobType(key) ?? 'unknown';
      const fp = fingerprintSha256(key);
      if (opts.insecureHostKey) {
        opts.onWarning?.(
          `not checking the SSH host key of ${label} (${type} ${fp}): anyone on the network path could impersonate the server`,
        );
        return true;
      }
      const v = checkHostKey(entries, host, hostPort, key);
      debug('ssh: host key %s %s for %s: %s', type, fp, label, v.status);
      if (v.status === 'known') return true;
      hostKeyFailure = hostKeyError(v, label, type, fp, khLabel, host, hostPort);
      return false;
    };

    const client = new Client();
    const config: ConnectConfig = {
      host,
      port: hostPort,
      username,
      readyTimeout: Math.round((opts.connectTimeout ?? 30) * 1000),
      keepaliveInterval: Math.round((opts.keepaliveInterval ?? 0) * 1000),
      hostVerifier,
      algorithms: {
        serverHostKey: hostKeyAlgorithms(knownKeyTypes(entries, host, hostPort)) as NonNullable<
          ConnectConfig['algorithms']
        >['serverHostKey'],
      },
    };
    if (sock) config.sock = sock as ConnectConfig['sock'];
    if (opts.password !== undefined) {
      config.password = opts.password;
      config.tryKeyboard = true;
    }
    if (privateKey !== undefined) config.privateKey = privateKey;
    if (opts.passphrase !== undefined) config.passphrase = opts.passphrase;
    if (opts.agent) config.agent = opts.agent;
    if (opts.password !== undefined) {
      // keyboard-interactive (PAM): answer hidden prompts with the password, once
      let answered = false;
      client.on('keyboard-interactive', (_n, _i, _l, prompts, finish) => {
        if (answered) {
          finish([]);
          return;
        }
        answered = true;
        finish(prompts.map((p) => (p.echo ? '' : opts.password!)));
      });
    }

    await new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        opts.signal?.removeEventListener('abort', onAbort);
        client.off('ready', onReady);
        client.off('error', onError);
        client.off('close', onClosed);
        if (err) {
          client.on('error', () => undefined);
          client.destroy();
          reject(err);
        } else resolve();
      };
      const onReady = () => finish();
      const onError = (e: Error & { level?: string; code?: string }) =>
        finish(mapConnectError(e, label, { ...opts, host, port: hostPort, username }, hostKeyFailure, privateKey !== undefined));
      const onClosed = () => finish(hostKeyFailure ?? new ConnectError(`the SSH connection to ${label} closed during the handshake`));
      const onAbort = () => finish(new AbortError('connecting over SSH was aborted'));
      client.on('ready', onReady);
      client.on('error', onError);
      client.on('close', onClosed);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        client.connect(config);
      } catch (e) {
        const hint = /passphrase|encrypted/i.test((e as Error).message)
          ? ' (an encrypted key needs its passphrase: the passphrase option, or env WINRM_SSH_PASSPHRASE for the CLI)'
          : '';
        finish(
          new InvalidArgumentError(
            `cannot use the SSH private key${opts.privateKeyPath ? ` ${opts.privateKeyPath}` : ''}: ${(e as Error).message}${hint}`,
            { cause: e },
          ),
        );
      }
    });
    return client;
  };

  // ssh -J: authenticate to the jump host, open a direct-tcpip channel from it to the target, run SSH over that
  let jumpClient: Client | undefined;
  let sock: Duplex | undefined;
  if (opts.jump) {
    const j = opts.jump;
    const jPort = j.port ?? 22;
    const jLabel = knownHostName(j.host, jPort);
    jumpClient = await handshake(j.host, jPort, j.username ?? opts.username);
    const jc = jumpClient;
    try {
      sock = await new Promise<Duplex>((resolve, reject) => {
        jc.forwardOut('127.0.0.1', 0, opts.host, port, (err, ch) => {
          if (err)
            reject(
              new ConnectError(
                `the jump host ${jLabel} could not open a connection to ${target}: ${err.message} (is the target reachable from ` +
                  `the jump host, and AllowTcpForwarding on there?)`,
                { cause: err },
              ),
            );
          else resolve(ch);
        });
      });
    } catch (e) {
      jc.on('error', () => undefined);
      jc.end();
      throw e;
    }
    debug('ssh: tunnel to %s through the jump host %s', target, jLabel);
  }
  let client: Client;
  try {
    client = await handshake(opts.host, port, opts.username, sock);
  } catch (e) {
    if (jumpClient) {
      jumpClient.on('error', () => undefined);
      jumpClient.end();
    }
    throw e;
  }
  if (jumpClient) {
    const jc = jumpClient;
    jc.on('error', () => undefined);
    client.once('close', () => jc.end());
  }

  const subsystem = opts.subsystem ?? 'powershell';
  let channel: ClientChannel;
  try {
    channel = await new Promise<ClientChannel>((resolve, reject) => {
      const onAbort = () => reject(new AbortError('connecting over SSH was aborted'));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      client.subsys(subsystem, (err, ch) => {
        opts.signal?.removeEventListener('abort', onAbort);
        if (err)
          reject(
            new ConnectError(
              `the SSH server ${target} refused the '${subsystem}' subsystem: add \`Subsystem ${subsystem} /usr/bin/pwsh -sshs ` +
                `-NoLogo -NoProfile\` to its sshd_config (PowerShell 7 must be installed there)`,
              { cause: err },
            ),
          );
        else resolve(ch);
      });
    });
  } catch (e) {
    client.on('error', () => undefined);
    client.destroy();
    throw e;
  }
  debug('ssh: %s subsystem %s open', target, subsystem);
  return sshTransport(client, channel, target, opts.fragmentSize ?? SSH_FRAGMENT_SIZE);
}

function hostKeyError(
  v: ReturnType<typeof checkHostKey>,
  target: string,
  type: string,
  fp: string,
  khLabel: string,
  host: string,
  port: number,
): HostKeyError {
  const keyType = type.replace(/^ssh-/, '').replace(/^ecdsa-sha2-nistp\d+$/, 'ecdsa');
  const scan = `ssh-keyscan ${port === 22 ? '' : `-p ${port} `}-t ${keyType} ${host}`;
  const skip = '--insecure-host-key (API: insecureHostKey) skips the check, which is unsafe';
  switch (v.status) {
    case 'revoked':
      return new HostKeyError(
        `the SSH host key of ${target} (${type} ${fp}) is marked @revoked in ${khLabel} line ${v.line}: refusing to connect`,
        'revoked',
        target,
        type,
        fp,
      );
    case 'changed':
      return new HostKeyError(
        `the SSH host key of ${target} has CHANGED: the server sent ${type} ${fp}, but ${khLabel} line ${v.line} holds a different key. ` +
          `Someone could be impersonating the server (man in the middle), or the server was reinstalled. ` +
          `If the change is expected, remove the old entry ` +
          `(\`ssh-keygen -R '${target}' -f ${khLabel}\`) and trust the new key after checking its fingerprint; ${skip}`,
        'changed',
        target,
        type,
        fp,
      );
    case 'unknown':
      return new HostKeyError(
        `the SSH host key of ${target} (${type} ${fp}) is not in ${khLabel}` +
          (v.otherTypes.length ? ` (it is known there only with ${v.otherTypes.join(', ')} keys, which the server did not offer)` : '') +
          `. Check the fingerprint with the server's administrator, then trust it: \`${scan} >> ${khLabel}\` (or connect once ` +
          `with OpenSSH \`ssh\`), or pass --known-hosts FILE; ${skip}`,
        'unknown',
        target,
        type,
        fp,
      );
    default:
      return new HostKeyError(`the SSH host key of ${target} was not accepted`, 'unknown', target, type, fp);
  }
}

function mapConnectError(
  e: Error & { level?: string; code?: string },
  target: string,
  opts: SshConnectOptions,
  hostKeyFailure: HostKeyError | undefined,
  hasKey: boolean,
): Error {
  if (hostKeyFailure) return hostKeyFailure;
  const msg = e.message;
  if (e.level === 'client-authentication') {
    const tried = [opts.password !== undefined ? 'password' : '', hasKey ? 'public key' : '', opts.agent ? 'ssh-agent' : '']
      .filter(Boolean)
      .join(', ');
    return new AccessDeniedError(
      `SSH authentication as ${opts.username} on ${target} failed (tried: ${tried}). Check the user name and the password or key, ` +
        `and that the server allows that method (PasswordAuthentication / PubkeyAuthentication, AuthorizedKeysFile in sshd_config)`,
      'bad-password',
      { cause: e },
    );
  }
  if (e.level === 'client-timeout') {
    return new TimeoutError(
      `the SSH handshake with ${target} did not complete within ${opts.connectTimeout ?? 30} s; check the host and port, or ` +
        `raise --connect-timeout`,
      { cause: e },
    );
  }
  if (e.code === 'ECONNREFUSED')
    return new ConnectError(`cannot connect to ${target}: connection refused (is sshd running on port ${opts.port ?? 22}?)`, { cause: e });
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return new ConnectError(`cannot resolve the host name ${opts.host}`, { cause: e });
  if (e.level === 'client-socket' || e.code) return new ConnectError(`cannot connect to ${target}: ${msg}`, { cause: e });
  if (/privateKey|private key|passphrase/i.test(msg))
    return new InvalidArgumentError(`cannot use the SSH private key: ${msg}`, { cause: e });
  return new TransportError(`the SSH handshake with ${target} failed: ${msg}`, { cause: e });
}

/**
 * Each <Data> waits for its DataAck, and over SSH a round trip costs far more than over a local pipe (an 8 MiB
 * copy on loopback sshd: 18.6 s with PowerShell's 32 KiB fragments, 8.4 s with 256 KiB, 6.4 s with 1 MiB); pwsh
 * takes fragments of any size. 2 MiB holds a whole 1 MiB file chunk's message (~1.4 MB of CLIXML) in one <Data>:
 * the remote pwsh neither reassembles it across lines nor collects as often (32 MiB copy: 4.2-4.7 s of its CPU
 * against 4.5-5.5 s with 1 MiB fragments; bench/results/2026-11-30-transfer-ssh.md).
 */
export const SSH_FRAGMENT_SIZE = 2 * 1024 * 1024;

/** Wrap the subsystem channel as a DuplexLike (pwsh's `__NamedPipeError__:` lines become errors) and drive OutOfProc over it. */
function sshTransport(client: Client, channel: ClientChannel, target: string, fragmentSize?: number): OutOfProcTransport {
  const filter = new SshsOutputFilter();
  const dataCbs: Array<(c: Uint8Array) => void> = [];
  const closeCbs: Array<() => void> = [];
  const errorCbs: Array<(e: Error) => void> = [];
  let stderr = '';
  let exit: { code?: number | null; signal?: string } | undefined;
  let closed = false;
  let clientClosed = false;
  client.on('close', () => {
    clientClosed = true;
  });
  const fireClose = () => {
    if (closed) return;
    closed = true;
    for (const f of closeCbs) f();
  };
  const fireError = (e: Error) => {
    for (const f of errorCbs) f(e);
  };

  channel.on('data', (b: Buffer) => {
    const r = filter.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    // errors first: after one the session is over, and its remaining bytes are not worth decoding
    for (const m of r.errors) fireError(new TransportError(`the PowerShell server on ${target} failed: ${m}`));
    for (const d of r.data) for (const f of dataCbs) f(d);
  });
  channel.stderr.on('data', (b: Buffer) => {
    if (stderr.length < 8192) stderr += b.toString('utf8');
  });
  channel.on('exit', (code: number | null, signal?: string) => {
    exit = { code, signal };
  });
  channel.on('close', fireClose);
  channel.on('error', (e: Error) => fireError(e));
  client.on('error', (e: Error) => fireError(new TransportError(`the SSH connection to ${target} failed: ${e.message}`, { cause: e })));
  client.on('close', fireClose);

  const duplex: DuplexLike = {
    write: (c) => channel.write(c),
    on: ((event: string, cb: (...a: never[]) => void) => {
      if (event === 'data') dataCbs.push(cb as (c: Uint8Array) => void);
      else if (event === 'close' || event === 'end') closeCbs.push(cb as () => void);
      else if (event === 'error') errorCbs.push(cb as (e: Error) => void);
    }) as DuplexLike['on'],
    end: () => {
      try {
        channel.end();
      } catch {
        /* already closed */
      }
    },
    // receive backpressure: the Session pauses reading above its event high-water mark (SSH window fills, pwsh waits)
    pause: () => channel.pause(),
    resume: () => channel.resume(),
  };

  return new OutOfProcTransport(duplex, {
    kind: 'ssh',
    fragmentSize,
    describeClose: () => {
      const tail = stderr.trim().split('\n').slice(-3).join(' ').slice(0, 500);
      const how = exit
        ? `the remote pwsh exited${exit.code != null ? ` with code ${exit.code}` : ''}${exit.signal ? ` (signal ${exit.signal})` : ''}`
        : `the SSH channel to ${target} closed`;
      return `${how}${tail ? `: ${tail}` : ''}`;
    },
    destroy: () =>
      new Promise<void>((resolve) => {
        if (clientClosed) {
          resolve();
          return;
        }
        const t = setTimeout(() => {
          client.destroy();
          resolve();
        }, 2000);
        client.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        client.on('error', () => undefined);
        client.end();
      }),
  });
}
