/**
 * PSRP over SSH against independent software: our client (ssh2) → OpenSSH sshd (Debian) → the `powershell`
 * subsystem → real pwsh 7.6.9 `-sshs`. The sshd is private: generated host key, loopback, ephemeral port
 * (test/peers/fixtures/sshd/start.sh). Covers key and password auth, values, streams, errors, host calls, stop,
 * `-f` with param(), strict host-key checking (unknown / changed / hashed known_hosts), wrong password, a missing
 * subsystem, and the CLI (`ps --ssh`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AbortError,
  AccessDeniedError,
  ConnectError,
  HostKeyError,
  InvalidArgumentError,
  PSInvocationState,
  PSObject,
  Session,
  connectSsh,
  describeRemoteError,
  TransportError,
  fingerprintSha256,
  psCredential,
  toPlain,
  type InvokeEvent,
  type PSHostHandler,
} from '../../src/index.js';
import { Client } from 'ssh2';
import { fromBase64 } from '../../src/util/bytes.js';
import { SshsOutputFilter } from '../../src/remoting/ssh.js';
import { peerSkip } from '../helpers/peers.js';
import { runCli } from '../helpers/cli.js';
import { sshdLog, sshdPresent, startSshd, type SshdPeer } from './fixtures/sshd/sshd.js';

const skip = peerSkip(
  'sshd + pwsh (PSRP over SSH)',
  sshdPresent(),
  'apt-get install openssh-server, npm run peers:install, and run as root (the test user is created)',
);
let peer: SshdPeer;
let work: string;

before(async () => {
  if (skip) return;
  peer = await startSshd();
  work = mkdtempSync(join(tmpdir(), 'winrm-ts-ssh-test-'));
});
after(async () => {
  await peer?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const hostPub = () => readFileSync(peer.hostKeyPub, 'utf8').trim().split(/\s+/);

describe('key auth, hashed known_hosts: one session', { skip }, () => {
  let s: Session;
  const prompts: string[] = [];
  const host: PSHostHandler = {
    ui: {
      readLine: () => 'Alice',
      readLineAsSecureString: () => 'typed-Secret-1',
      promptForCredential: (_c, _m, userName) => ({ userName: userName || 'bob', password: 'cred-Secret-2' }),
      promptForChoice: (caption, message, choices, def) => {
        prompts.push(`${caption}|${message}|${choices.map((c) => c.label).join(',')}|${def}`);
        return 1;
      },
      writeLine: () => undefined,
      write: () => undefined,
      writeProgress: () => undefined,
    },
  };
  before(async () => {
    try {
      s = await Session.open({
        transport: 'ssh',
        computerName: `127.0.0.1:${peer.port}`,
        username: peer.user,
        privateKeyPath: peer.keyPath,
        knownHostsPath: peer.knownHostsHashed,
        host,
      });
    } catch (e) {
      throw new Error(`${(e as Error).message}\nsshd log:\n${sshdLog(peer)}`);
    }
  });
  after(async () => {
    await s?.close();
  });

  test('values come back typed, as the remote user', async () => {
    const r = await s.invoke(
      `1+1; 'text'; [pscustomobject]@{ a = 1; b = 'x'; c = @(1,2) }; whoami; $PSVersionTable.PSVersion.ToString(); ` +
        `[datetime]::new(2020,1,2,3,4,5,[DateTimeKind]::Utc)`,
    );
    assert.equal(r.hadErrors, false);
    const [two, text, obj, who, ver, dt] = r.output.map((v) => toPlain(v));
    assert.equal(two, 2);
    assert.equal(text, 'text');
    assert.deepEqual(obj, { a: 1, b: 'x', c: [1, 2] });
    assert.equal(who, peer.user);
    assert.match(String(ver), /^7\.6\./);
    assert.equal(new Date(String(dt)).toISOString(), '2020-01-02T03:04:05.000Z');
  });

  test('every stream arrives; Write-Error sets hadErrors', async () => {
    const r = await s.invoke(
      `Write-Warning 'w1'; Write-Verbose 'v1' -Verbose; Write-Debug 'd1' -Debug; Write-Information 'i1'; Write-Progress ` +
        `-Activity act -Status st; Write-Error 'e1'; 'out'`,
    );
    assert.deepEqual(
      r.output.map((v) => toPlain(v)),
      ['out'],
    );
    const msg = (x: unknown) => String((x as PSObject).get('Message') ?? (x as PSObject).toStringValue);
    assert.deepEqual(r.streams.warning.map(msg), ['w1']);
    assert.deepEqual(r.streams.verbose.map(msg), ['v1']);
    assert.deepEqual(r.streams.debug.map(msg), ['d1']);
    assert.equal(String(toPlain((r.streams.information[0] as PSObject).get('MessageData') as never)), 'i1');
    assert.ok(r.streams.progress.length >= 1);
    assert.equal(r.streams.error.length, 1);
    assert.match(describeRemoteError(r.streams.error[0]), /e1/);
    assert.equal(r.hadErrors, true);
  });

  test('a terminating error fails the pipeline with its ErrorRecord', async () => {
    const r = await s.invoke(`'before'; throw 'it broke'`);
    assert.deepEqual(
      r.output.map((v) => toPlain(v)),
      ['before'],
    );
    assert.equal(r.state, PSInvocationState.Failed);
    assert.equal(r.hadErrors, true);
    assert.match(describeRemoteError(r.streams.error.at(-1)), /it broke/);
  });

  test('host calls: Read-Host and PromptForChoice are answered by our host', async () => {
    const r = await s.invoke(
      `$n = Read-Host 'Your name'; $c = $host.UI.PromptForChoice('Cap', 'Pick one', ` +
        `[System.Management.Automation.Host.ChoiceDescription[]]@('&Yes', '&No'), 0); "hello $n, choice $c"`,
    );
    assert.equal(r.hadErrors, false, JSON.stringify(r.streams.error.map((e) => describeRemoteError(e))));
    assert.deepEqual(
      r.output.map((v) => toPlain(v)),
      ['hello Alice, choice 1'],
    );
    assert.deepEqual(prompts, ['Cap|Pick one|&Yes,&No|0']);
  });

  test('host calls returning secrets: Get-Credential (session key exchanged on demand)', async () => {
    const r = await s.invoke(
      `$c = Get-Credential -UserName carol -Message 'm'; [pscustomobject]@{ user = $c.UserName; pw = ` +
        `($c.GetNetworkCredential().Password -eq 'cred-Secret-2') }`,
    );
    assert.equal(r.hadErrors, false, JSON.stringify(r.streams.error.map((e) => describeRemoteError(e))));
    assert.deepEqual(
      r.output.map((v) => toPlain(v)),
      [{ user: 'carol', pw: true }],
    );
  });

  test('host calls returning secrets: Read-Host -AsSecureString (key exchanged while opening, the default)', async () => {
    assert.ok(s.pool.hasSessionKey);
    const r = await s.invoke(
      `$ss = Read-Host -AsSecureString 'pin'; [pscredential]::new('x', $ss).GetNetworkCredential().Password -eq 'typed-Secret-1'`,
    );
    assert.deepEqual(
      r.output.map((v) => toPlain(v)),
      [true],
    );
  });

  test('a PSCredential argument arrives intact (compared remotely, nothing secret printed)', async () => {
    const r = await s.invoke('param($Cred) $Cred.UserName; $Cred.GetNetworkCredential().Password -eq "arg-Secret-3"', {
      parameters: { Cred: psCredential('dave', 'arg-Secret-3') },
    });
    assert.deepEqual(
      r.output.map((v) => toPlain(v)),
      ['dave', true],
    );
  });

  test('stop: an endless pipeline stops on abort and the session stays usable', async () => {
    const ac = new AbortController();
    const seen: unknown[] = [];
    await assert.rejects(async () => {
      for await (const ev of s.stream(`'started'; while ($true) { Start-Sleep -Milliseconds 20 }`, { signal: ac.signal })) {
        if (ev.type === 'output') {
          seen.push(toPlain(ev.value));
          ac.abort();
        }
      }
    }, AbortError);
    assert.deepEqual(seen, ['started']);
    const r = await s.invoke('2+2');
    assert.deepEqual(
      r.output.map((v) => toPlain(v)),
      [4],
    );
  });

  test('invokeFile: a local .ps1 with param() and positional args (Invoke-Command -FilePath)', async () => {
    const f = join(work, 'greet.ps1');
    writeFileSync(f, '\uFEFFparam([string]$Name, [int]$Count = 1)\n1..$Count | ForEach-Object { "hello $Name $_" }\n');
    const r = await s.invokeFile(f, { args: ['world', 3] });
    assert.deepEqual(
      r.output.map((v) => toPlain(v)),
      ['hello world 1', 'hello world 2', 'hello world 3'],
    );
    const r2 = await s.invokeFile(f, { parameters: { Name: 'named' } });
    assert.deepEqual(
      r2.output.map((v) => toPlain(v)),
      ['hello named 1'],
    );
  });

  test('pipeline input and several pipelines at once', async () => {
    const [a, b] = await Promise.all([
      s.invoke('process { $_ * 10 }', { input: [1, 2, 3] }),
      s.invoke('Start-Sleep -Milliseconds 50; "second"'),
    ]);
    assert.deepEqual(
      a.output.map((v) => toPlain(v)),
      [10, 20, 30],
    );
    assert.deepEqual(
      b.output.map((v) => toPlain(v)),
      ['second'],
    );
  });
});

describe('password auth and host-key policy', { skip }, () => {
  test('password auth with a plain known_hosts', async () => {
    const s = await Session.open({
      transport: 'ssh',
      computerName: '127.0.0.1',
      port: peer.port,
      username: peer.user,
      password: peer.password,
      knownHostsPath: peer.knownHosts,
    });
    try {
      const r = await s.invoke('whoami');
      assert.deepEqual(
        r.output.map((v) => toPlain(v)),
        [peer.user],
      );
    } finally {
      await s.close();
    }
  });

  test('a wrong password is AccessDeniedError, and the password is not in the message', async () => {
    const bad = 'Wrong-Secret-123';
    const e = await connectSsh({
      host: '127.0.0.1',
      port: peer.port,
      username: peer.user,
      password: bad,
      knownHostsPath: peer.knownHosts,
    }).then(
      () => undefined,
      (x: Error) => x,
    );
    assert.ok(e instanceof AccessDeniedError, String(e));
    assert.match(e.message, /authentication as winrmts/);
    assert.ok(!e.message.includes(bad));
  });

  test('an unknown host key is refused by default, with the fingerprint OpenSSH shows and how to trust it', async () => {
    const empty = join(work, 'empty_known_hosts');
    writeFileSync(empty, '');
    const e = await connectSsh({
      host: '127.0.0.1',
      port: peer.port,
      username: peer.user,
      privateKeyPath: peer.keyPath,
      knownHostsPath: empty,
    }).then(
      () => undefined,
      (x: Error) => x,
    );
    assert.ok(e instanceof HostKeyError, String(e));
    assert.equal(e.reason, 'unknown');
    assert.equal(e.keyType, 'ssh-ed25519');
    const openssh = execFileSync('ssh-keygen', ['-lf', peer.hostKeyPub], { encoding: 'utf8' }).split(/\s+/)[1];
    assert.equal(e.fingerprint, openssh);
    assert.equal(e.fingerprint, fingerprintSha256(fromBase64(hostPub()[1]!)));
    assert.match(e.message, /ssh-keyscan -p \d+ -t ed25519 127\.0\.0\.1/);
    assert.match(e.message, /--insecure-host-key/);
  });

  test('a changed host key is refused and names the known_hosts line', async () => {
    const other = readFileSync(peer.keyPath + '.pub', 'utf8')
      .trim()
      .split(/\s+/); // some other ed25519 key
    const e = await connectSsh({
      host: '127.0.0.1',
      port: peer.port,
      username: peer.user,
      privateKeyPath: peer.keyPath,
      knownHosts: `# first line\n[127.0.0.1]:${peer.port} ${other[0]} ${other[1]}\n`,
    }).then(
      () => undefined,
      (x: Error) => x,
    );
    assert.ok(e instanceof HostKeyError, String(e));
    assert.equal(e.reason, 'changed');
    assert.match(e.message, /CHANGED.*line 2/);
  });

  test('--insecure-host-key skips the check with a warning; a missing subsystem is a ConnectError', async () => {
    const warnings: string[] = [];
    const e = await connectSsh({
      host: '127.0.0.1',
      port: peer.port,
      username: peer.user,
      privateKeyPath: peer.keyPath,
      knownHosts: '',
      insecureHostKey: true,
      onWarning: (m) => warnings.push(m),
      subsystem: 'no-such-subsystem',
    }).then(
      () => undefined,
      (x: Error) => x,
    );
    assert.ok(e instanceof ConnectError, String(e));
    assert.match(e.message, /refused the 'no-such-subsystem' subsystem/);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /not checking the SSH host key.*SHA256:/);
  });

  test('default known_hosts is ~/.ssh/known_hosts (hashed entries work there too)', async () => {
    const home = join(work, 'home');
    mkdirSync(join(home, '.ssh'), { recursive: true });
    writeFileSync(join(home, '.ssh', 'known_hosts'), readFileSync(peer.knownHostsHashed));
    const saved = process.env.HOME;
    process.env.HOME = home;
    try {
      // authentication and the host key pass; the made-up subsystem is what fails (no remote pwsh needed)
      const e = await connectSsh({
        host: '127.0.0.1',
        port: peer.port,
        username: peer.user,
        privateKeyPath: peer.keyPath,
        subsystem: 'no-such-subsystem',
      }).then(
        () => undefined,
        (x: Error) => x,
      );
      assert.ok(e instanceof ConnectError && !(e instanceof HostKeyError), String(e));
      assert.match(e.message, /refused the 'no-such-subsystem' subsystem/);
    } finally {
      process.env.HOME = saved;
    }
  });

  test('an encrypted private key: refused without its passphrase (typed, says how), works with it', async () => {
    const k = join(work, 'enc_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'key-Pass-4', '-f', k]);
    writeFileSync(join(peer.dir, 'authorized_keys'), readFileSync(peer.keyPath + '.pub', 'utf8') + readFileSync(k + '.pub', 'utf8'));
    const e = await connectSsh({
      host: '127.0.0.1',
      port: peer.port,
      username: peer.user,
      privateKeyPath: k,
      knownHostsPath: peer.knownHosts,
    }).then(
      () => undefined,
      (x: Error) => x,
    );
    assert.ok(e instanceof InvalidArgumentError, String(e));
    assert.match(e.message, /passphrase/);
    const ok = await connectSsh({
      host: '127.0.0.1',
      port: peer.port,
      username: peer.user,
      privateKeyPath: k,
      passphrase: 'key-Pass-4',
      knownHostsPath: peer.knownHosts,
      subsystem: 'no-such-subsystem',
    }).then(
      () => undefined,
      (x: Error) => x,
    );
    assert.ok(ok instanceof ConnectError && !(ok instanceof HostKeyError), String(ok)); // authenticated; only the subsystem is refused
  });

  test('ssh-agent auth (a key held by a real ssh-agent)', async () => {
    const sock = join(work, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      execFileSync('ssh-add', [peer.keyPath], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      const e = await connectSsh({
        host: '127.0.0.1',
        port: peer.port,
        username: peer.user,
        agent: sock,
        knownHostsPath: peer.knownHosts,
        subsystem: 'no-such-subsystem',
      }).then(
        () => undefined,
        (x: Error) => x,
      );
      assert.ok(e instanceof ConnectError, String(e)); // authenticated: only the subsystem is refused
      const denied = await connectSsh({
        host: '127.0.0.1',
        port: peer.port,
        username: 'root',
        agent: sock,
        knownHostsPath: peer.knownHosts,
      }).then(
        () => undefined,
        (x: Error) => x,
      );
      assert.ok(denied instanceof AccessDeniedError, String(denied));
      assert.match(denied.message, /tried: ssh-agent/);
    } finally {
      agent.kill();
    }
  });

  test('password through keyboard-interactive (PAM) when the server has PasswordAuthentication no', async () => {
    const kbd = await startSshd({ keyboardInteractive: true });
    try {
      const ok = await connectSsh({
        host: '127.0.0.1',
        port: kbd.port,
        username: kbd.user,
        password: kbd.password,
        knownHostsPath: kbd.knownHosts,
        subsystem: 'no-such-subsystem',
      }).then(
        () => undefined,
        (x: Error) => x,
      );
      assert.ok(ok instanceof ConnectError && !(ok instanceof AccessDeniedError), `${String(ok)}\n${sshdLog(kbd)}`); // authenticated
      const bad = await connectSsh({
        host: '127.0.0.1',
        port: kbd.port,
        username: kbd.user,
        password: 'Wrong-Secret-5',
        knownHostsPath: kbd.knownHosts,
      }).then(
        () => undefined,
        (x: Error) => x,
      );
      assert.ok(bad instanceof AccessDeniedError, String(bad));
    } finally {
      await kbd.stop();
    }
  });

  test('real pwsh -sshs errors (`__NamedPipeError__:` + stack) are split from the stream by SshsOutputFilter', async () => {
    const c = new Client();
    const out = await new Promise<{ data: string; errors: string[]; code: number | null }>((resolve, reject) => {
      c.on('error', reject);
      c.on('ready', () =>
        c.subsys('powershell', (err, ch) => {
          if (err) {
            reject(err);
            return;
          }
          const f = new SshsOutputFilter();
          const data: Uint8Array[] = [];
          const errors: string[] = [];
          let code: number | null = null;
          ch.on('data', (b: Buffer) => {
            for (let k = 0; k < b.length; k += 7) {
              const r = f.push(b.subarray(k, k + 7));
              data.push(...r.data.map((d) => d.slice()));
              errors.push(...r.errors);
            }
          });
          ch.on('exit', (x: number | null) => {
            code = x;
          });
          ch.on('close', () => resolve({ data: Buffer.concat(data).toString('utf8'), errors, code }));
          ch.write("<Bogus PSGuid='00000000-0000-0000-0000-000000000000' />\n"); // the server rejects it and exits
        }),
      );
      c.connect({
        host: '127.0.0.1',
        port: peer.port,
        username: peer.user,
        privateKey: readFileSync(peer.keyPath),
        hostVerifier: () => true,
      });
    }).finally(() => c.end());
    assert.equal(out.data, '', 'the stack trace lines are dropped, nothing else was written');
    assert.equal(out.errors.length, 1);
    assert.match(out.errors[0]!, /unknown element "Bogus"/);
    assert.notEqual(out.code, 0);
  });

  test('connection refused is a ConnectError', async () => {
    const net = await import('node:net');
    const port = await new Promise<number>((r) => {
      const sv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (sv.address() as { port: number }).port;
        sv.close(() => r(p));
      });
    });
    await assert.rejects(connectSsh({ host: '127.0.0.1', port, username: 'x', password: 'y', insecureHostKey: true }), ConnectError);
  });
});

describe('lazy key exchange (exchangeKeys: false), then connection loss', { skip }, () => {
  let s: Session;
  const states: InvokeEvent[] = [];
  let streamError: Error | undefined;
  before(async () => {
    s = await Session.open({
      transport: 'ssh',
      computerName: `127.0.0.1:${peer.port}`,
      username: peer.user,
      privateKeyPath: peer.keyPath,
      knownHostsPath: peer.knownHosts,
      exchangeKeys: false,
      host: { ui: { readLineAsSecureString: () => 'typed-Secret-4' } },
    });
  });
  after(async () => {
    await s?.close();
  });

  test('Read-Host "pin" -AsSecureString as the first secret of the session: the answer waits for the key exchange', async () => {
    assert.equal(s.pool.hasSessionKey, false);
    const r = await s.invoke(
      `$ss = Read-Host -AsSecureString 'pin'; [pscredential]::new('x', $ss).GetNetworkCredential().Password -eq 'typed-Secret-4'`,
    );
    assert.equal(r.hadErrors, false, JSON.stringify(r.streams.error.map((e) => describeRemoteError(e))));
    assert.deepEqual(
      r.output.map((v) => toPlain(v)),
      [true],
    );
    assert.ok(s.pool.hasSessionKey);
  });

  test('the remote pwsh is killed mid-pipeline', async () => {
    try {
      for await (const ev of s.stream('$PID; while ($true) { Start-Sleep -Milliseconds 50 }')) {
        if (ev.type === 'output') process.kill(Number(toPlain(ev.value)), 'SIGKILL'); // the remote pwsh this session started
        if (ev.type === 'state') states.push(ev);
      }
    } catch (e) {
      streamError = e as Error;
    }
  });

  test(
    'the remote pwsh dying mid-pipeline ends the pipeline ' + '(Failed), no hang; the session then refuses with a ' + 'TransportError',
    async () => {
      assert.ok(
        streamError instanceof TransportError || states.some((e) => e.type === 'state' && e.state === PSInvocationState.Failed),
        `${String(streamError)} ${JSON.stringify(states)}`,
      );
      const e = await s.invoke('1').then(
        () => undefined,
        (x: Error) => x,
      );
      assert.ok(e instanceof TransportError, String(e));
      assert.match(e.message, /closed unexpectedly: the remote pwsh exited with code \d+/);
    },
  );

  test('the pipeline itself reports why it failed: the running stream rejects with the TransportError', async () => {
    assert.ok(streamError instanceof TransportError, String(streamError));
    assert.match(streamError.message, /closed unexpectedly: the remote pwsh exited/);
    const next = await s.invoke('1').then(
      () => undefined,
      (x: Error) => x,
    );
    assert.equal(next, streamError, 'the session refuses with the same error');
  });
});

describe('CLI: winrm-ts ps --ssh', { skip }, () => {
  test('-f script.ps1 -- args over SSH with a key', async () => {
    const f = join(work, 's.ps1');
    writeFileSync(f, 'param([string]$Name, [int]$Count = 1)\n1..$Count | ForEach-Object { "hello $Name $_" }\nWrite-Error "bad thing"\n');
    const r = await runCli([
      'ps',
      '--ssh',
      '-H',
      `127.0.0.1:${peer.port}`,
      '-u',
      peer.user,
      '--ssh-key',
      peer.keyPath,
      '--known-hosts',
      peer.knownHosts,
      '-f',
      f,
      '--',
      'world',
      '3',
    ]);
    assert.deepEqual(r.stdout.trim().split('\n'), ['hello world 1', 'hello world 2', 'hello world 3'], r.stderr);
    assert.match(r.stderr, /bad thing/);
    assert.equal(r.code, 1, 'errors in the pipeline give a non-zero exit code');
  });

  test('an unknown host key stops the CLI before any authentication', async () => {
    const empty = join(work, 'empty2');
    writeFileSync(empty, '');
    const r = await runCli([
      'ps',
      '--ssh',
      '-H',
      '127.0.0.1',
      '--port',
      String(peer.port),
      '-u',
      peer.user,
      '--ssh-key',
      peer.keyPath,
      '--known-hosts',
      empty,
      '-c',
      '1',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /host key of \[127\.0\.0\.1\]:\d+ \(ssh-ed25519 SHA256:.*is not in/);
    assert.equal(r.stdout, '');
  });
});

test('receive backpressure over SSH: a consumer that stops reading pauses the channel, nothing is lost', { skip }, async () => {
  const s = await Session.open({
    transport: 'ssh',
    computerName: `127.0.0.1:${peer.port}`,
    username: peer.user,
    privateKeyPath: peer.keyPath,
    knownHostsPath: peer.knownHostsHashed,
    maxBufferedEvents: 16,
  } as never);
  try {
    const it = s.stream('1..20000');
    const first = await it.next();
    assert.deepEqual(toPlain(first.value as never), { type: 'output', value: 1 });
    for (let i = 0; i < 500 && !s.receivePaused; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(s.receivePaused, `the SSH channel was never paused (${s.bufferedEvents} events buffered)`);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(s.bufferedEvents < 2000, `${s.bufferedEvents} events buffered while paused`);
    const rest: unknown[] = [];
    for await (const ev of it) if (ev.type === 'output') rest.push(toPlain(ev.value));
    assert.equal(rest.length, 19999);
    assert.equal(rest[0], 2);
    assert.equal(rest.at(-1), 20000);
    assert.deepEqual(
      (await s.invoke('"after"')).output.map((v) => toPlain(v)),
      ['after'],
    );
  } finally {
    await s.close();
  }
});
