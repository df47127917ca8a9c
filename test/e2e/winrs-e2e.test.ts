/** Our client <-> our endpoint over real sockets (HTTP and HTTPS, Basic). */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { connect, TlsError, AccessDeniedError, WSManFaultError, AuthError, type ConnectOptions } from '../../src/index.js';
import { startEndpoint, selfSigned, USER, PASSWORD } from '../helpers/server-fixture.js';

let http: Awaited<ReturnType<typeof startEndpoint>>;
let https: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  http = await startEndpoint();
  const c = selfSigned();
  https = await startEndpoint({ https: true, cert: c.cert, key: c.key, allowUnencrypted: false });
});
after(async () => {
  await http.close();
  await https.close();
});

const opts = (o: Partial<ConnectOptions> = {}): ConnectOptions => ({
  host: `127.0.0.1:${http.port}`,
  username: USER,
  password: PASSWORD,
  auth: 'basic',
  allowUnencrypted: true,
  ...o,
});

test('a short run takes exactly 4 HTTP requests (Create, Command, Receive, Delete)', async () => {
  const c = connect(opts());
  try {
    const r = await c.exec('echo', ['hi']);
    assert.equal(r.stdout.toString(), 'hi\n');
    assert.equal(r.exitCode, 0);
    assert.equal(c.stats.requests, 4);
    assert.equal(c.stats.connections, 1);
    const r2 = await c.exec('true');
    assert.equal(r2.exitCode, 0);
    assert.equal(c.stats.requests, 8, 'a second run on the same keep-alive connection: 4 more');
    assert.equal(c.stats.connections, 1);
  } finally {
    c.close();
  }
});

test('UTF-8 both ways (Japanese, emoji), stderr apart, exit codes', async () => {
  const c = connect(opts());
  const shell = await c.openShell();
  try {
    const u = await shell.exec('printf', ['%s', '日本語 ✓ 🎉']);
    assert.equal(u.stdout.toString('utf8'), '日本語 ✓ 🎉');
    const e = await shell.exec('sh', ['-c', 'echo out; echo err 1>&2; exit 3']);
    assert.equal(e.stdout.toString(), 'out\n');
    assert.equal(e.stderr.toString(), 'err\n');
    assert.equal(e.exitCode, 3);
    for (const code of [0, 1, 2, 42, 127, 128, 200, 254, 255]) {
      assert.equal((await shell.exec('sh', ['-c', `exit ${code}`])).exitCode, code);
    }
    const i = await shell.exec('cat', [], { input: 'データ 🚀\nline2\n' });
    assert.equal(i.stdout.toString('utf8'), 'データ 🚀\nline2\n');
    const env = await shell.exec('printenv', ['USERNAME', 'USERDOMAIN']);
    assert.equal(env.stdout.toString(), 'alice\nEXAMPLE\n');
    const cmd = await shell.exec('cmd', ['/c', 'echo', 'via-cmd']);
    assert.equal(cmd.stdout.toString(), 'via-cmd\n');
    // the password never reaches the child
    const all = await shell.exec('env');
    assert.ok(!all.stdout.toString().includes(PASSWORD));
  } finally {
    await shell.close();
    c.close();
  }
});

test('shell options: working directory and environment', async () => {
  const c = connect(opts());
  const shell = await c.openShell({ workingDirectory: '/tmp', environment: { FOO: 'bar baz', X_1: 'ü' } });
  try {
    const r = await shell.exec('sh', ['-c', 'pwd; echo "$FOO"; echo "$X_1"']);
    assert.equal(r.stdout.toString(), '/tmp\nbar baz\nü\n');
  } finally {
    await shell.close();
    c.close();
  }
});

test('stdin streamed to EOF and large output streamed', async () => {
  const c = connect(opts());
  const shell = await c.openShell();
  try {
    const cmd = await shell.run('wc', ['-c']);
    const chunk = Buffer.alloc(300_000, 0x61);
    await cmd.write(chunk);
    await cmd.write(chunk);
    await cmd.end();
    const out: Buffer[] = [];
    for await (const d of cmd.stdout) out.push(d as Buffer);
    assert.equal(Buffer.concat(out).toString().trim(), '600000');
    assert.equal(await cmd.exitCode, 0);
    const big = await shell.run('head', ['-c', '5000000', '/dev/zero']);
    let n = 0;
    for await (const d of big.stdout) n += (d as Buffer).length;
    assert.equal(n, 5_000_000);
    assert.equal(await big.exitCode, 0);
  } finally {
    await shell.close();
    c.close();
  }
});

test('many commands on one shell, and a command terminated', async () => {
  const c = connect(opts());
  const shell = await c.openShell();
  try {
    for (let i = 0; i < 20; i++) assert.equal((await shell.exec('echo', [String(i)])).stdout.toString(), `${i}\n`);
    const long = await shell.run('sleep', ['30']);
    await long.terminate();
    const code = await long.exitCode;
    assert.notEqual(code, 0);
    const ctrlc = await shell.run('sleep', ['30']);
    await ctrlc.ctrlC();
    assert.notEqual(await ctrlc.exitCode, 0);
  } finally {
    await shell.close();
    c.close();
  }
});

test('abort signal stops a running command', async () => {
  const c = connect(opts());
  const shell = await c.openShell();
  try {
    const ac = new AbortController();
    const cmd = await shell.run('sleep', ['30'], { signal: ac.signal });
    setImmediate(() => ac.abort());
    await assert.rejects(cmd.exitCode, { name: 'AbortError' });
    assert.equal((await shell.exec('echo', ['still'])).stdout.toString(), 'still\n');
  } finally {
    await shell.close();
    c.close();
  }
});

test('a Receive long poll with no output: TimedOut faults are retried silently', async () => {
  const c = connect(opts({ operationTimeout: 1, readTimeout: 5 }));
  const shell = await c.openShell();
  try {
    const r = await shell.exec('sh', ['-c', 'sleep 2.5; echo late']);
    assert.equal(r.stdout.toString(), 'late\n');
  } finally {
    await shell.close();
    c.close();
  }
});

test('faults: unknown shell id, closed shell', async () => {
  const c = connect(opts());
  const shell = await c.openShell();
  await shell.close();
  await assert.rejects(
    c.wsman.invoke(
      'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command',
      'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd',
      '<rsp:CommandLine><rsp:Command>echo</rsp:Command></rsp:CommandLine>',
      { selectors: { ShellId: shell.shellId } },
    ),
    (e: unknown) => e instanceof WSManFaultError && e.wsmanFaultCode === 2150858843 && e.machine === 'hostA',
  );
  await assert.rejects(
    c.wsman.get('http://schemas.microsoft.com/wbem/wsman/1/nope'),
    (e: unknown) => e instanceof WSManFaultError && e.wsmanFaultCode === 2150858811,
  );
  c.close();
});

test('auth errors: anonymous names ANONYMOUS LOGON; wrong password is AccessDenied without the password', async () => {
  const anon = connect({ host: `127.0.0.1:${http.port}` });
  await assert.rejects(
    anon.exec('echo'),
    (e: unknown) => e instanceof AccessDeniedError && /NT AUTHORITY\\ANONYMOUS LOGON/.test((e as Error).message),
  );
  anon.close();
  const bad = connect(opts({ password: 'Zq9-notmine' }));
  await assert.rejects(bad.exec('echo'), (e: unknown) => e instanceof AccessDeniedError && !(e as Error).message.includes('Zq9-notmine'));
  bad.close();
});

test('Basic over plain HTTP is refused when unencrypted traffic is not allowed', async () => {
  const strict = await startEndpoint({ allowUnencrypted: false });
  try {
    const c = connect({ host: `127.0.0.1:${strict.port}`, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true });
    await assert.rejects(c.exec('echo'), (e: unknown) => e instanceof AuthError && /HTTP|unencrypted/i.test((e as Error).message));
    c.close();
  } finally {
    await strict.close();
  }
});

test('HTTPS: self-signed refused by default with a TlsError that says what to do; ca and fingerprint work', async () => {
  const c0 = connect({ host: `127.0.0.1:${https.port}`, https: true, username: USER, password: PASSWORD, auth: 'basic' });
  await assert.rejects(
    c0.exec('echo'),
    (e: unknown) => e instanceof TlsError && /--ca/.test((e as Error).message) && /--fingerprint/.test((e as Error).message),
  );
  c0.close();
  const c1 = connect({
    host: `127.0.0.1:${https.port}`,
    https: true,
    username: USER,
    password: PASSWORD,
    auth: 'basic',
    ca: selfSigned().cert,
  });
  assert.equal((await c1.exec('echo', ['tls'])).stdout.toString(), 'tls\n');
  c1.close();
  const c2 = connect({
    host: `127.0.0.1:${https.port}`,
    https: true,
    username: USER,
    password: PASSWORD,
    auth: 'basic',
    fingerprint: https.fingerprint!,
  });
  assert.equal((await c2.exec('echo', ['pinned'])).stdout.toString(), 'pinned\n');
  c2.close();
  const c3 = connect({
    host: `127.0.0.1:${https.port}`,
    https: true,
    username: USER,
    password: PASSWORD,
    auth: 'basic',
    fingerprint: 'SHA256:' + '00'.repeat(32),
  });
  await assert.rejects(c3.exec('echo'), TlsError);
  c3.close();
  const warnings: string[] = [];
  const c4 = connect({
    host: `127.0.0.1:${https.port}`,
    https: true,
    username: USER,
    password: PASSWORD,
    auth: 'basic',
    insecure: true,
    onWarning: (w) => warnings.push(w),
  });
  assert.equal((await c4.exec('echo', ['insecure'])).stdout.toString(), 'insecure\n');
  assert.equal(warnings.length, 1);
  c4.close();
});

test('the client reconnects transparently when the server closes the keep-alive connection', async () => {
  const c = connect(opts());
  const shell = await c.openShell();
  try {
    assert.equal((await shell.exec('echo', ['a'])).stdout.toString(), 'a\n');
    http.server.closeIdleConnections();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await shell.exec('echo', ['b'])).stdout.toString(), 'b\n');
    assert.ok(c.stats.connections >= 2);
  } finally {
    await shell.close();
    c.close();
  }
});

test('the endpoint log names users and actions but never the password', () => {
  const text = http.lines.join('\n');
  assert.match(text, /EXAMPLE\\alice/);
  assert.match(text, /Receive/);
  assert.ok(!text.includes(PASSWORD));
});

test('a shell belongs to its owner: another user gets Access denied', async () => {
  const alice = connect(opts());
  const bob = connect(opts({ username: 'EXAMPLE\\bob', password: 'B0b-secret' }));
  const shell = await alice.openShell();
  try {
    await assert.rejects(
      bob.wsman.invoke(
        'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command',
        shell.resourceUri,
        '<rsp:CommandLine><rsp:Command>echo</rsp:Command></rsp:CommandLine>',
        { selectors: { ShellId: shell.shellId } },
      ),
      (e: unknown) => e instanceof WSManFaultError && e.wsmanFaultCode === 2147942405,
    );
    assert.equal((await shell.exec('echo', ['mine'])).stdout.toString(), 'mine\n');
  } finally {
    await shell.close();
    alice.close();
    bob.close();
  }
});
