/**
 * The trusted-hosts policy (src/client/trusted-hosts.ts, ConnectOptions.trustedHosts): patterns, and which
 * connections are refused before anything is sent (connect() does no I/O until the first request).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { connect, UntrustedHostError, type ConnectOptions } from '../../src/index.js';
import { matchesTrustedHost, hostTrust, trustedHostsList } from '../../src/client/trusted-hosts.js';
import { createInitiator } from '../../src/auth/registry.js';

test('patterns: exact names and addresses, *.domain, IP wildcards, *, <local>; case-insensitive; no partial matches', () => {
  const list = ['*.corp.example', '192.168.1.*', 'Web1', '[::1]', '<local>'];
  for (const h of ['a.corp.example', 'A.B.CORP.EXAMPLE', '192.168.1.20', 'web1', 'WEB1', '::1', '[::1]', 'fileserver'])
    assert.ok(matchesTrustedHost(h, list), h);
  for (const h of ['corp.example', 'a.corp.example.evil', '192.168.10.1', '192.168.1', 'web1.corp.other', '10.0.0.1', '::2', 'x.y'])
    assert.ok(!matchesTrustedHost(h, list), h);
  assert.ok(matchesTrustedHost('anything.example', ['*']));
  assert.ok(!matchesTrustedHost('web1', []));
  assert.ok(!matchesTrustedHost('w.corp.example', ['w.corp.example*x']));
  // regex characters in a pattern are literal
  assert.ok(!matchesTrustedHost('web1xcorp', ['web1.corp']));
  assert.deepEqual(trustedHostsList(' a, b ,,c '), ['a', 'b', 'c']);
});

test('hostTrust: no list = no policy; verified or pinned HTTPS proves the host; --insecure does not', () => {
  assert.equal(hostTrust({ host: 'h' }), 'no-policy');
  assert.equal(hostTrust({ host: 'h', trustedHosts: [] }), 'untrusted');
  assert.equal(hostTrust({ host: 'h', trustedHosts: ['h'] }), 'trusted');
  assert.equal(hostTrust({ host: 'h', https: true, trustedHosts: [] }), 'proven');
  assert.equal(hostTrust({ host: 'h', https: true, insecure: true, trustedHosts: [] }), 'untrusted');
  assert.equal(hostTrust({ host: 'h', https: true, insecure: true, fingerprint: 'SHA256:00', trustedHosts: [] }), 'proven');
});

const base: ConnectOptions = { host: '127.0.0.1', username: 'EXAMPLE\\alice', password: 'Passw0rd!', trustedHosts: ['*.corp.example'] };
const refused = (o: Partial<ConnectOptions>, what: RegExp) =>
  assert.throws(
    () => connect({ ...base, ...o }),
    (e: unknown) =>
      (e instanceof UntrustedHostError &&
        e.code === 'WINRM_ERR_UNTRUSTED_HOST' &&
        e.host === '127.0.0.1' &&
        what.test(e.message) &&
        /ConnectOptions\.trustedHosts/.test(e.message) &&
        /"\*\.corp\.example"/.test(e.message) &&
        !e.message.includes('Passw0rd!')) ||
      assert.fail(String(e)),
  );

test('NTLM, Basic, Negotiate and CredSSP without Kerberos to a host outside the list over HTTP: refused at connect()', () => {
  refused({ auth: 'ntlm' }, /refused to send NTLM credentials to 127\.0\.0\.1/);
  refused({ auth: 'basic', allowUnencrypted: true }, /the password \(Basic authentication\)/);
  refused({}, /NTLM credentials \(Negotiate has no Kerberos credential here\)/); // the default mechanism
  refused({ auth: 'credssp', delegateTo: ['wsman/127.0.0.1'] }, /CredSSP \(with NTLM inside/);
  refused({ auth: 'ntlm', https: true, insecure: true }, /HTTPS with certificate verification off/);
  assert.throws(
    () => connect({ ...base, auth: 'ntlm', trustedHostsSource: '"trustedHosts" in /etc/x.json' }),
    /add "127\.0\.0\.1" .* to "trustedHosts" in \/etc\/x\.json/,
  );
});

test('allowed: a matching host, verified / pinned HTTPS, Kerberos, anonymous, and no list at all', () => {
  const ok = (o: Partial<ConnectOptions>) => {
    const c = connect({ ...base, ...o });
    c.close();
  };
  ok({ auth: 'ntlm', trustedHosts: ['127.0.0.*'] });
  ok({ auth: 'ntlm', trustedHosts: undefined });
  ok({ auth: 'ntlm', https: true });
  ok({ auth: 'basic', https: true, insecure: true, fingerprint: 'SHA256:' + '00'.repeat(32) });
  ok({ auth: 'kerberos', username: 'alice@EXAMPLE.TEST' });
  ok({ username: undefined, password: undefined, auth: undefined });
});

test('Negotiate with a Kerberos credential to an untrusted host: Kerberos is tried, the NTLM fallback is refused', async () => {
  // a KDC address that refuses connections: Kerberos fails, and Negotiate would fall back to NTLM
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const old = process.env.WINRM_TS_KDC;
  process.env.WINRM_TS_KDC = `127.0.0.1:${port}`;
  try {
    let made = 0;
    const refusal = (what: string) => {
      made++;
      return new UntrustedHostError(`refused: ${what}`, '127.0.0.1');
    };
    const ctx = createInitiator(
      'negotiate',
      { username: 'alice@EXAMPLE.TEST', password: 'Passw0rd!' },
      { targetHost: '127.0.0.1', ntlmRefused: refusal },
    );
    await assert.rejects(ctx.step(), (e: unknown) => e instanceof UntrustedHostError && /Negotiate could not use Kerberos/.test(e.message));
    assert.equal(made, 1);
    // the same credentials without the policy fall back to NTLM (a NegTokenInit carrying NTLMSSP)
    const free = createInitiator('negotiate', { username: 'alice@EXAMPLE.TEST', password: 'Passw0rd!' }, { targetHost: '127.0.0.1' });
    const tok = await free.step();
    assert.ok(tok && Buffer.from(tok).includes(Buffer.from('NTLMSSP\0')));
  } finally {
    if (old === undefined) delete process.env.WINRM_TS_KDC;
    else process.env.WINRM_TS_KDC = old;
  }
});

test('Session.open options carry trustedHosts and tlsServerName to the connection (the wsman transport)', async () => {
  const { connectionOptionsFrom } = await import('../../src/index.js');
  const c = connectionOptionsFrom({
    computerName: '10.0.0.5',
    trustedHosts: ['*.corp'],
    trustedHostsSource: 'x',
    tlsServerName: 'web1.corp',
  });
  assert.deepEqual([c.trustedHosts, c.trustedHostsSource, c.tlsServerName], [['*.corp'], 'x', 'web1.corp']);
});
