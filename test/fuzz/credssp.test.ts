import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TSRequest } from '../../src/auth/credssp/ts-request.js';
import { TSCredentials, TSPasswordCreds } from '../../src/auth/credssp/ts-credentials.js';
import { CredSSPInitiator } from '../../src/auth/credssp/initiator.js';
import { CredSSPAcceptor } from '../../src/auth/credssp/acceptor.js';
import { InvalidTokenError, RemoteProtocolError, WinRMError } from '../../src/errors.js';
import type { UserDatabase } from '../../src/auth/types.js';
import { fuzzRandom } from '../helpers/fuzz.js';

const fz = fuzzRandom('credssp.test.ts');

const users: UserDatabase = { lookup: (d, u) => (u === 'alice' ? { domain: 'EXAMPLE', user: 'alice', password: 'Passw0rd!' } : undefined) };

function mutate(b: Uint8Array, i: number): Uint8Array {
  const c = Uint8Array.from(b);
  for (let k = 0; k < 1 + (i % 3); k++) c[Math.floor(fz.next() * c.length)] = Math.floor(fz.next() * 256);
  return c;
}

test('fuzz tsrequest/tscredentials decoders: only typed errors escape', () => {
  const seeds = [
    TSRequest.encode({
      version: 6,
      negoTokens: [fz.bytes(40)],
      pubKeyAuth: fz.bytes(48),
      clientNonce: fz.bytes(32),
      errorCode: 0xc000006d,
    }),
    TSRequest.encode({ version: 2, authInfo: fz.bytes(90) }),
    TSCredentials.password({ domainName: 'EXAMPLE', userName: 'alice', password: 'x' }),
  ];
  const decoders = [TSRequest.decode, TSCredentials.decode, TSPasswordCreds.decode, (b: Uint8Array) => TSRequest.frameLength(b)];
  for (let i = 0; i < 4000; i++) {
    const input = i % 2 ? fz.bytes(1 + (i % 80)) : mutate(seeds[i % seeds.length]!, i);
    for (const d of decoders) {
      try {
        d(input);
      } catch (e) {
        if (!(e instanceof RemoteProtocolError || e instanceof InvalidTokenError))
          throw new Error(`untyped ${e} for ${Buffer.from(input).toString('hex')}`);
      }
    }
  }
  // every truncation of a valid TSRequest is refused
  const s = seeds[0]!;
  for (let n = 0; n < s.length; n++)
    assert.throws(
      () => TSRequest.decode(s.subarray(0, n)),
      (e: unknown) => e instanceof InvalidTokenError && e.mechanism === 'CredSSP',
    );
});

test('fuzz credssp contexts: random and mutated tokens at each handshake leg give typed errors', async () => {
  for (let i = 0; i < 40; i++) {
    const init = new CredSSPInitiator({
      credentials: { username: 'EXAMPLE\\alice', password: 'Passw0rd!' },
      targetHost: 'h',
      delegateTo: ['wsman/h'],
    });
    const acc = new CredSSPAcceptor({ userDb: users, serverName: 'H' });
    const legBreak = i % 5; // which leg gets corrupted
    let tok = await init.step();
    let toAcceptor = true;
    let n = 0;
    try {
      while (tok && tok.length && n < 12) {
        if (n === legBreak) tok = i % 2 ? mutate(tok, i) : fz.bytes(tok.length);
        tok = toAcceptor ? await acc.step(tok) : await init.step(tok);
        toAcceptor = !toAcceptor;
        n++;
        if (init.complete && acc.complete) break;
      }
    } catch (e) {
      assert.ok(e instanceof WinRMError, `untyped error: ${e}`);
      continue;
    }
    // a mutation that happened to hit only tolerated bytes: the handshake must not have produced a wrong identity
    if (acc.identity) assert.equal(acc.identity.user, 'alice');
  }
});
