// NTLM message codecs (MS-NLMP 2.2.1.x, 2.2.2.1 AV_PAIR, 2.2.2.10 VERSION): round trips and real-world flag mixes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toHex, utf16le } from '../../src/util/bytes.js';
import { NegotiateFlags as F, AvId } from '../../src/auth/ntlm/flags.js';
import {
  decodeAuthenticate,
  decodeAvPairs,
  decodeChallenge,
  decodeNegotiate,
  encodeAuthenticate,
  encodeAvPairs,
  encodeChallenge,
  encodeNegotiate,
  isNtlmToken,
} from '../../src/auth/ntlm/messages.js';
import { NtlmInitiator, INITIATOR_FLAGS } from '../../src/auth/ntlm/initiator.js';
import { NtlmAcceptor } from '../../src/auth/ntlm/acceptor.js';

const users = {
  lookup: (d: string, u: string) => (u.toLowerCase() === 'alice' ? { domain: 'EXAMPLE', user: 'alice', password: 'Passw0rd!' } : undefined),
};

test('NEGOTIATE: always 40 bytes with VERSION (gss-ntlmssp refuses the 32-byte form); Windows flags 0xE20882B7', () => {
  const b = encodeNegotiate({ flags: INITIATOR_FLAGS });
  assert.equal(b.length, 40);
  assert.equal(INITIATOR_FLAGS, 0xe20882b7);
  assert.ok(isNtlmToken(b));
  const d = decodeNegotiate(b);
  assert.equal(d.flags >>> 0, 0xe20882b7);
  assert.deepEqual(d.version, { major: 10, minor: 0, build: 17763, revision: 15 });
  const withNames = decodeNegotiate(encodeNegotiate({ flags: F.UNICODE, domainName: 'EXAMPLE', workstation: 'WS1' }));
  assert.equal(withNames.domainName, 'EXAMPLE');
  assert.equal(withNames.workstation, 'WS1');
});

test('AV_PAIR list round trip; EOL terminates; a missing EOL at the end is tolerated', () => {
  const pairs = [
    { id: AvId.NbDomainName, value: utf16le('EXAMPLE') },
    { id: AvId.Timestamp, value: new Uint8Array(8).fill(1) },
  ];
  const b = encodeAvPairs(pairs);
  assert.equal(toHex(b.subarray(b.length - 4)), '00000000');
  assert.deepEqual(decodeAvPairs(b), pairs);
  assert.deepEqual(decodeAvPairs(b.subarray(0, b.length - 4)), pairs);
});

test('CHALLENGE with OEM and UNICODE together (FreeRDP): strings read as UNICODE, the initiator answers in UNICODE', async () => {
  const flags = (INITIATOR_FLAGS | F.TARGET_INFO) >>> 0; // has both OEM and UNICODE
  const ch = encodeChallenge({
    flags,
    targetName: 'SERVER',
    serverChallenge: new Uint8Array(8).fill(7),
    targetInfo: [{ id: AvId.NbDomainName, value: utf16le('SERVER') }],
  });
  assert.equal(decodeChallenge(ch).targetName, 'SERVER');
  const ini = new NtlmInitiator({ credentials: { username: 'EXAMPLE\\alice', password: 'x' } });
  await ini.step();
  const auth = decodeAuthenticate((await ini.step(ch))!);
  assert.ok(auth.flags & F.UNICODE);
  assert.equal(auth.flags & F.OEM, 0, 'OEM dropped when UNICODE is there');
  assert.equal(auth.userName, 'alice');
});

test('an OEM-only client (no UNICODE) still authenticates: strings in OEM both ways', async () => {
  const acc = new NtlmAcceptor({ userDb: users, netbiosDomain: 'EXAMPLE' });
  const oemFlags = (INITIATOR_FLAGS & ~F.UNICODE) >>> 0;
  const chBytes = (await acc.step(encodeNegotiate({ flags: oemFlags })))!;
  const ch = decodeChallenge(chBytes);
  assert.equal(ch.flags & F.UNICODE, 0);
  assert.ok(ch.flags & F.OEM);
  assert.equal(ch.targetName, 'EXAMPLE');
  // drive our initiator against that CHALLENGE: it must use OEM strings
  const ini = new NtlmInitiator({ credentials: { username: 'EXAMPLE\\alice', password: 'Passw0rd!' } });
  await ini.step();
  // (our initiator's NEGOTIATE differs from the one the acceptor saw, so only the MIC would differ: check fields)
  const auth = decodeAuthenticate((await ini.step(chBytes))!);
  assert.equal(auth.userName, 'alice');
  assert.equal(auth.domainName, 'EXAMPLE');
});

test('AUTHENTICATE round trip: fields, Version, MIC slot at 72 (payload at 88)', () => {
  const m = {
    flags: (F.UNICODE | F.NTLM | F.VERSION) >>> 0,
    lmChallengeResponse: new Uint8Array(24),
    ntChallengeResponse: new Uint8Array(48).fill(2),
    domainName: 'EXAMPLE',
    userName: 'alice',
    workstation: 'WS',
    encryptedRandomSessionKey: new Uint8Array(16).fill(3),
    mic: new Uint8Array(16).fill(9),
  };
  const b = encodeAuthenticate(m);
  const d = decodeAuthenticate(b);
  assert.equal(d.payloadOffset, 88);
  assert.equal(toHex(d.mic!), '09'.repeat(16));
  assert.equal(d.userName, 'alice');
  assert.equal(d.domainName, 'EXAMPLE');
  assert.equal(d.workstation, 'WS');
  assert.equal(toHex(d.encryptedRandomSessionKey), '03'.repeat(16));
});
