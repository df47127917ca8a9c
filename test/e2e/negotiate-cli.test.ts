// The CLI with Negotiate against our endpoint (what acceptance B2 checks): `run` defaults to negotiate when a user is
// given and seals over HTTP; `--encryption never` is refused by default; a wrong password is a clear error without
// any password in the output; `--auth ntlm` forces raw NTLM. The password travels in WINRM_PASSWORD (not argv).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';

let ep: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  ep = await startEndpoint({ auth: ['negotiate'], allowUnencrypted: false });
});
after(async () => {
  await ep.close();
});

const run = (pw: string, ...args: string[]) =>
  runCli(['run', '-H', `127.0.0.1:${ep.port}`, '-u', USER, ...args], { env: { ...process.env, WINRM_PASSWORD: pw } });

test('winrm-ts run with a user: negotiate by default, sealed over HTTP', async () => {
  const r = await run(PASSWORD, '--', 'echo', 'sealed');
  assert.equal(r.stdout.trim(), 'sealed', r.stderr);
  assert.equal(r.code, 0);
  assert.ok(ep.lines.some((l) => /auth ok EXAMPLE\\alice via negotiate \(network\)/.test(l)));
});

test('winrm-ts run --auth ntlm (raw NTLM) works; --encryption never is refused; wrong password is clear and secret-free', async () => {
  const ntlm = await run(PASSWORD, '--auth', 'ntlm', '--', 'echo', 'raw');
  assert.equal(ntlm.stdout.trim(), 'raw', ntlm.stderr);
  const never = await run(PASSWORD, '--encryption', 'never', '--', 'echo', 'x');
  assert.notEqual(never.code, 0);
  assert.match(never.stderr, /encrypt/i);
  const bad = await run('Zq9-notmine', '--', 'echo', 'x');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /denied|credential|password/i);
  assert.match(bad.stderr, /EXAMPLE\\alice/);
  for (const r of [ntlm, never, bad])
    assert.ok(!r.stderr.includes('Zq9-notmine') && !r.stderr.includes(PASSWORD) && !r.stdout.includes(PASSWORD));
});

test(
  'serve --auth ntlm (no negotiate) accepts run --auth ntlm (raw NTLMSSP under the Negotiate scheme) and explains a ' +
    'Negotiate-only client',
  async () => {
    const ntlmOnly = await startEndpoint({ auth: ['ntlm'], allowUnencrypted: false });
    try {
      const env = { ...process.env, WINRM_PASSWORD: PASSWORD };
      const ok = await runCli(['run', '-H', `127.0.0.1:${ntlmOnly.port}`, '-u', USER, '--auth', 'ntlm', '--', 'echo', 'raw-ntlm'], { env });
      assert.equal(ok.stdout.trim(), 'raw-ntlm', ok.stderr);
      assert.equal(ok.code, 0);
      assert.ok(
        ntlmOnly.lines.some((l) => /auth ok EXAMPLE\\alice via ntlm \(network\)/.test(l)),
        ntlmOnly.lines.join('\n'),
      );
      const neg = await runCli(['run', '-H', `127.0.0.1:${ntlmOnly.port}`, '-u', USER, '--', 'echo', 'x'], { env });
      assert.notEqual(neg.code, 0);
      assert.match(neg.stderr, /offers: NTLM.*--auth ntlm/);
    } finally {
      await ntlmOnly.close();
    }
  },
);
