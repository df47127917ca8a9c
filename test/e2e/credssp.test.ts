// Our CredSSP client <-> our endpoint (`--auth credssp`) over real sockets on 127.0.0.1: encrypted HTTP
// (application/HTTP-CredSSP-session-encrypted, 16 KiB chunks, multipart/x-multi-encrypted), HTTPS, bodies from 1 byte
// to 10 MB, the delegated logon (interactive), a wrong password, a host outside the delegate list, a host without CredSSP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect, CredSSPError, DelegationRefusedError, WinRMError } from '../../src/index.js';
import { startEndpoint, selfSigned, USER, PASSWORD } from '../helpers/server-fixture.js';

let http: Awaited<ReturnType<typeof startEndpoint>>;
let https: Awaited<ReturnType<typeof startEndpoint>>;
let noCredssp: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  http = await startEndpoint({ auth: ['negotiate', 'credssp'], allowUnencrypted: false });
  const c = selfSigned();
  https = await startEndpoint({ auth: ['credssp'], allowUnencrypted: false, https: true, cert: c.cert, key: c.key });
  noCredssp = await startEndpoint({ auth: ['negotiate'], allowUnencrypted: false });
});
after(async () => {
  await http.close();
  await https.close();
  await noCredssp.close();
});

const credssp = (port: number, o: Record<string, unknown> = {}) =>
  connect({ host: `127.0.0.1:${port}`, username: USER, password: PASSWORD, auth: 'credssp', delegateTo: ['wsman/127.0.0.1'], ...o });

test('CredSSP over HTTP: encrypted exchange, delegated (interactive) logon, pinned round trips', async () => {
  const c = credssp(http.port);
  try {
    const r = await c.exec('printenv', ['USERNAME']);
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout.toString().trim(), 'alice');
    // TLS 1.2 (2 legs) + NTLM NEGOTIATE/CHALLENGE (1) + AUTHENTICATE/pubKeyAuth (1) + authInfo (1)
    assert.equal(c.stats.authRequests, 5, 'CredSSP handshake legs');
    assert.equal(c.stats.connections, 1);
    assert.ok(
      http.lines.some((l) => /auth ok EXAMPLE\\alice via credssp \(interactive\)/.test(l)),
      http.lines.join('\n'),
    );
    assert.ok(!http.lines.some((l) => l.includes(PASSWORD)), 'no password in the endpoint log');
  } finally {
    c.close();
  }
});

test('CredSSP over HTTP: bodies from 1 byte to 10 MB both ways (16 KiB TLS records, x-multi-encrypted)', async () => {
  const c = credssp(http.port);
  try {
    for (const n of [1, 16383, 16384, 16385, 100_000]) {
      const input = new Uint8Array(n).map((_, i) => 97 + (i % 26));
      const r = await c.exec('wc', ['-c'], { input });
      assert.equal(r.stdout.toString().trim(), String(n), `stdin of ${n} bytes`);
    }
    const big = 10 * 1024 * 1024;
    const shell = await c.openShell();
    const cmd = await shell.run('sh', ['-c', `head -c ${big} /dev/zero | tr '\\0' 'x'`]);
    let got = 0;
    cmd.stderr.resume();
    for await (const chunk of cmd.stdout) got += (chunk as Buffer).length;
    assert.equal(await cmd.exitCode, 0);
    assert.equal(got, big);
    await shell.close();
  } finally {
    c.close();
  }
});

test('CredSSP over HTTPS: plain SOAP inside the listener TLS, delegated logon', async () => {
  const c = credssp(https.port, { https: true, ca: selfSigned().cert });
  try {
    const r = await c.exec('printenv', ['USERNAME']);
    assert.equal(r.stdout.toString().trim(), 'alice');
    assert.ok(https.lines.some((l) => /via credssp \(interactive\)/.test(l)));
  } finally {
    c.close();
  }
});

test('CredSSP: wrong password -> CredSSPError with the NTSTATUS as text, no secret', async () => {
  const c = credssp(http.port, { password: 'not-the-password' });
  try {
    await assert.rejects(c.exec('echo', ['x']), (e: unknown) => {
      assert.ok(e instanceof CredSSPError, String(e));
      assert.match(e.message, /0xC000006D STATUS_LOGON_FAILURE/);
      assert.doesNotMatch(e.message, /not-the-password|Passw0rd/);
      return true;
    });
  } finally {
    c.close();
  }
});

test('CredSSP: host outside the delegate list -> refused before any request', async () => {
  const before = http.lines.length;
  // the guard runs when the CredSSP context is created (in connect()), before any token or request exists
  let err: unknown;
  try {
    const c = credssp(http.port, { delegateTo: ['wsman/*.corp.example'] });
    try {
      await c.exec('echo', ['x']);
    } finally {
      c.close();
    }
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof DelegationRefusedError, String(err));
  assert.match((err as Error).message, /--delegate-to wsman\/127\.0\.0\.1/);
  assert.equal(http.lines.length, before, `the endpoint saw traffic: ${http.lines.slice(before).join('\n')}`);
});

test('CredSSP: a host that does not offer CredSSP -> an error that says so', async () => {
  const c = credssp(noCredssp.port);
  try {
    await assert.rejects(c.exec('echo', ['x']), (e: unknown) => {
      assert.ok(e instanceof WinRMError, String(e));
      assert.match(e.message, /CredSSP/i);
      return true;
    });
  } finally {
    c.close();
  }
});

/** One raw HTTP request on its own connection: garbage in `Authorization: CredSSP ...`. */
function rawAuth(port: number, value: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/wsman',
        method: 'POST',
        agent: false,
        headers: { Authorization: value, 'Content-Type': 'application/soap+xml;charset=UTF-8', 'Content-Length': 0 },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('CredSSP endpoint: garbage TLS / TSRequest in the header -> a clean 401/400, and the endpoint keeps serving', async () => {
  const garbage = [
    'CredSSP ' + Buffer.from('not tls at all, just text').toString('base64'),
    'CredSSP ' + Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0x01]).toString('base64'), // a TLS record header claiming 64 KiB
    'CredSSP ' + Buffer.from([0x16, 0x03, 0x03, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]).toString('base64'),
    'CredSSP !!!not-base64!!!',
    'CredSSP ',
  ];
  for (const g of garbage) {
    const r = await rawAuth(http.port, g);
    assert.ok(r.status === 401 || r.status === 400, `${g} -> ${r.status}`);
  }
  const c = credssp(http.port);
  try {
    assert.equal((await c.exec('echo', ['still', 'serving'])).stdout.toString().trim(), 'still serving');
  } finally {
    c.close();
  }
});
