/**
 * Negotiate with Kerberos inside: a malformed token from the server is an InvalidTokenError (mechanism Kerberos) and
 * never a silent fall back to NTLM; a Kerberos that cannot get going (no ticket, no KDC) still falls back.
 * No KDC: the service ticket comes from a credential cache made here with a known service key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encrypt, randomKey } from '../../src/auth/kerberos/crypto.js';
import { encodeCCache } from '../../src/auth/kerberos/ccache.js';
import { parseKrb5Conf } from '../../src/auth/kerberos/config.js';
import { encodeEncTicketPart, encodeTicket } from '../../src/auth/kerberos/messages.js';
import { SpnegoKerberosInitiator } from '../../src/auth/kerberos/index.js';
import { MechOid, NegState, encodeNegTokenResp } from '../../src/auth/spnego/tokens.js';
import { InvalidTokenError, KerberosError } from '../../src/errors.js';
import type { AuthContext } from '../../src/auth/types.js';

const alice = { name: { nameType: 1, nameString: ['alice'] }, realm: 'EXAMPLE.TEST' };
const http = { name: { nameType: 2, nameString: ['HTTP', 'localhost'] }, realm: 'EXAMPLE.TEST' };
const krbtgt = { name: { nameType: 2, nameString: ['krbtgt', 'EXAMPLE.TEST'] }, realm: 'EXAMPLE.TEST' };

/** A credential cache holding a TGT and a service ticket for HTTP/localhost (the initiator needs no KDC then). */
function ccacheWithServiceTicket(dir: string): string {
  const session = randomKey(18);
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const end = new Date(now.getTime() + 3600_000);
  const etp = encodeEncTicketPart({
    flags: 0,
    key: { keytype: 18, keyvalue: session.value },
    crealm: alice.realm,
    cname: alice.name,
    authtime: now,
    endtime: end,
  });
  const ticket = encodeTicket({
    realm: http.realm,
    sname: http.name,
    encPart: { etype: 18, kvno: 3, cipher: encrypt(randomKey(18), 2, etp) },
  });
  const path = join(dir, 'ccache');
  writeFileSync(
    path,
    encodeCCache({
      defaultPrincipal: alice,
      credentials: [
        { client: alice, server: krbtgt, key: session, authtime: now, starttime: now, endtime: end, flags: 0, ticket },
        { client: alice, server: http, key: session, authtime: now, starttime: now, endtime: end, flags: 0, ticket },
      ],
    }),
  );
  return path;
}

/** An NTLM stand-in that records whether the fallback was taken. */
function fallbackProbe(): { make: () => AuthContext; taken: () => boolean } {
  let taken = false;
  return {
    make: () => {
      taken = true;
      return { step: async () => Uint8Array.of(1) } as unknown as AuthContext;
    },
    taken: () => taken,
  };
}

test('a malformed AP-REP or NegTokenResp from the server: InvalidTokenError, no NTLM fallback', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-negotiate-'));
  try {
    const env = { KRB5CCNAME: `FILE:${ccacheWithServiceTicket(dir)}` };
    const config = parseKrb5Conf('[libdefaults]\n default_realm = EXAMPLE.TEST\n');
    const garbage = [
      Uint8Array.of(0x6f, 0x03, 0x30, 0x01, 0x00),
      Uint8Array.of(0x60, 0x05, 1, 2, 3),
      new Uint8Array(0).fill(0),
      Uint8Array.of(0x7f),
    ];
    for (const responseToken of garbage) {
      const fb = fallbackProbe();
      const me = new SpnegoKerberosInitiator({ targetHost: 'localhost', env, config }, fb.make);
      const init = await me.step();
      assert.ok(init && init.length > 100, 'a NegTokenInit carrying the AP-REQ');
      const resp = encodeNegTokenResp({
        negState: NegState.ACCEPT_COMPLETED,
        supportedMech: MechOid.KRB5,
        responseToken: responseToken.length ? responseToken : undefined,
      });
      await assert.rejects(me.step(resp), (e: unknown) =>
        responseToken.length ? e instanceof InvalidTokenError && e.mechanism === 'Kerberos' : e instanceof KerberosError,
      );
      assert.equal(fb.taken(), false, 'a bad server token never falls back to NTLM');
    }
    // the whole Negotiate token malformed: the SPNEGO decoder's InvalidTokenError
    const me = new SpnegoKerberosInitiator({ targetHost: 'localhost', env, config }, fallbackProbe().make);
    await me.step();
    await assert.rejects(
      me.step(Uint8Array.of(0xa1, 0x05, 0x30)),
      (e: unknown) => e instanceof InvalidTokenError && e.mechanism === 'SPNEGO',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Kerberos that cannot start (no ticket, no KDC) still falls back to NTLM', async () => {
  const fb = fallbackProbe();
  const config = parseKrb5Conf('[libdefaults]\n default_realm = EXAMPLE.TEST\n');
  const me = new SpnegoKerberosInitiator(
    {
      targetHost: 'localhost',
      env: { KRB5CCNAME: 'FILE:/nonexistent/winrm-ts-ccache' },
      config,
      credentials: { username: 'alice@EXAMPLE.TEST', password: 'x' },
    },
    fb.make,
  );
  const tok = await me.step();
  assert.deepEqual(tok, Uint8Array.of(1), 'the NTLM context answered');
  assert.equal(fb.taken(), true);
});
