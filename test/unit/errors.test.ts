/** The error vocabulary: prefixed codes exported from the public API, AccessDeniedError.reason, one InvalidTokenError. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as api from '../../src/index.js';
import { BasicAcceptor } from '../../src/auth/basic.js';
import { NtlmAcceptor } from '../../src/auth/ntlm/acceptor.js';
import { NtlmInitiator } from '../../src/auth/ntlm/initiator.js';
import { decodeChallenge } from '../../src/auth/ntlm/messages.js';
import { decodeNegotiationToken } from '../../src/auth/spnego/tokens.js';
import { TSRequest } from '../../src/auth/credssp/ts-request.js';
import { parseUsers } from '../../src/server/users.js';
import { AccessDeniedError, InvalidTokenError, WINRM_ERR_ACCESS_DENIED, WINRM_ERR_INVALID_TOKEN } from '../../src/errors.js';

const users = parseUsers('EXAMPLE\\alice:Passw0rd!\n');

test('every error code is a WINRM_ERR_ constant exported from the public API, equal to its name', () => {
  const codes = Object.entries(api).filter(([k]) => k.startsWith('WINRM_ERR_'));
  assert.ok(codes.length >= 20, `exported codes: ${codes.length}`);
  for (const [k, v] of codes) assert.equal(v, k);
  const classes = (Object.values(api) as unknown[]).filter(
    (v): v is (new (...a: unknown[]) => api.WinRMError) & { name: string } =>
      typeof v === 'function' && (v as { prototype?: unknown }).prototype instanceof api.WinRMError,
  );
  assert.ok(classes.length >= 20, `exported classes: ${classes.length}`);
  for (const C of classes) {
    // class fields are set by the constructor: build one with plausible arguments
    const inst = new (C as unknown as new (...a: unknown[]) => api.WinRMError)(...(C === api.InvalidTokenError ? ['NTLM', 'm'] : ['m']));
    assert.match(inst.code, /^WINRM_ERR_[A-Z_]+$/, `${C.name}: ${inst.code}`);
    assert.equal((api as Record<string, unknown>)[inst.code], inst.code, `${C.name}'s code ${inst.code} is exported`);
  }
});

test('AccessDeniedError.reason: bad password, anonymous, MIC and channel binding from the acceptors', async () => {
  const basic = (s?: string) => new BasicAcceptor(users).step(s === undefined ? undefined : new TextEncoder().encode(s));
  await assert.rejects(
    basic('EXAMPLE\\alice:wrong'),
    (e: unknown) => e instanceof AccessDeniedError && e.reason === 'bad-password' && e.code === WINRM_ERR_ACCESS_DENIED,
  );
  await assert.rejects(basic(), (e: unknown) => e instanceof AccessDeniedError && e.reason === 'anonymous');

  const ntlm = async (o: { password?: string; cbIni?: string; cbAcc?: string; tamper?: boolean }) => {
    const ini = new NtlmInitiator({
      credentials: { username: 'EXAMPLE\\alice', password: o.password ?? 'Passw0rd!' },
      spn: 'HTTP/server.example',
    });
    const cb = (s?: string) => (s ? { applicationData: new TextEncoder().encode('tls-server-end-point:' + s) } : undefined);
    const acc = new NtlmAcceptor({
      userDb: users,
      netbiosDomain: 'EXAMPLE',
      ...(o.cbAcc ? { channelBindings: cb(o.cbAcc), cbt: 'strict' as const } : {}),
    });
    const t1 = await ini.step(undefined, { channelBindings: cb(o.cbIni) });
    const t2 = await acc.step(t1!);
    const t3 = (await ini.step(t2!, { channelBindings: cb(o.cbIni) }))!;
    if (o.tamper) t3[t3.length - 1] ^= 1; // a flipped bit in the payload: the MIC no longer verifies
    return acc.step(t3);
  };
  await assert.rejects(ntlm({ password: 'wrong' }), (e: unknown) => e instanceof AccessDeniedError && e.reason === 'bad-password');
  await assert.rejects(
    ntlm({ cbIni: 'aa', cbAcc: 'bb' }),
    (e: unknown) => e instanceof AccessDeniedError && e.reason === 'channel-binding',
  );
  await assert.rejects(
    ntlm({ cbIni: 'aa', cbAcc: 'aa', tamper: true }),
    (e: unknown) => e instanceof AccessDeniedError && (e.reason === 'mic' || e.reason === 'bad-password'),
    'tampered',
  );
});

test('a malformed token is an InvalidTokenError naming the mechanism (NTLM, SPNEGO, CredSSP)', () => {
  const garbage = new Uint8Array([0x30, 0x03, 0x02, 0x01]);
  const cases: Array<[string, () => unknown]> = [
    ['NTLM', () => decodeChallenge(new TextEncoder().encode('NTLMSSP\0\x02\0\0\0'))],
    ['SPNEGO', () => decodeNegotiationToken(new Uint8Array([0xa1, 0x05, 0x30, 0x03]))],
    ['CredSSP', () => TSRequest.decode(garbage)],
  ];
  for (const [mech, f] of cases) {
    assert.throws(
      f,
      (e: unknown) =>
        e instanceof InvalidTokenError && e.mechanism === mech && e.code === WINRM_ERR_INVALID_TOKEN && e instanceof api.AuthError,
      mech,
    );
  }
});
