// NTLMv2 against the MS-NLMP 4.2 test vectors (4.2.1 common values, 4.2.4 NTLMv2 authentication), as collected in
// ../shared/reference/protocol.md 2.7 (and re-derived there from pyspnego / ntlm-auth tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex, utf16le, concatBytes } from '../../src/util/bytes.js';
import {
  ntHash,
  ntowfv2,
  ntProofStr,
  lmv2Response,
  sessionBaseKey,
  signKey,
  sealKey,
  channelBindingsHash,
  encodeChannelBindings,
} from '../../src/auth/ntlm/crypto.js';
import { rc4 } from '../../src/crypto/rc4.js';
import { NtlmSession } from '../../src/auth/ntlm/security.js';
import { NegotiateFlags as F } from '../../src/auth/ntlm/flags.js';
import {
  decodeAuthenticate,
  decodeChallenge,
  encodeClientChallenge,
  decodeAvPairs,
  encodeNegotiate,
} from '../../src/auth/ntlm/messages.js';
import { NtlmInitiator } from '../../src/auth/ntlm/initiator.js';
import { NtlmAcceptor } from '../../src/auth/ntlm/acceptor.js';

// MS-NLMP 4.2.1 Common Values
const USER = 'User',
  DOMAIN = 'Domain',
  PASSWORD = 'Password';
const RANDOM_SESSION_KEY = fromHex('55'.repeat(16));
const TIME = new Uint8Array(8);
const CLIENT_CHALLENGE = fromHex('aa'.repeat(8));
const SERVER_CHALLENGE = fromHex('0123456789abcdef');
// MS-NLMP 4.2.4 NTLMv2 Authentication flags
const FLAGS_424 =
  (F.KEY_EXCH |
    F.NEGOTIATE_56 |
    F.NEGOTIATE_128 |
    F.VERSION |
    F.TARGET_INFO |
    F.EXTENDED_SESSIONSECURITY |
    F.TARGET_TYPE_SERVER |
    F.ALWAYS_SIGN |
    F.NTLM |
    F.SEAL |
    F.SIGN |
    F.OEM |
    F.UNICODE) >>>
  0;
const AV_PAIRS_424 = fromHex('02000c0044006f006d00610069006e0001000c005300650072007600650072000000' + '0000');

// TargetNameFields Len is 0x0c as in MS-NLMP 4.2.4.3 (the ntlm-auth copy in protocol.md has 0x03 there, a transcription slip).
const CHALLENGE_424 = fromHex(
  '4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef000000000000000024002400440000000600' +
    '70170000000f53006500720076006500720002000c0044006f006d00610069006e0001000c00530065007200760065007200' +
    '00000000',
);
const AUTHENTICATE_424 = fromHex(
  '4e544c4d5353500003000000180018006c00000054005400840000000c000c00480000000800080054000000100010005c00' +
    '000010001000d8000000358288e20501280a0000000f44006f006d00610069006e00550073006500720043004f004d005000' +
    '550054004500520086c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa68cd0ab851e51c96aabc927bebef6a1c0101' +
    '0000000000000000000000000000aaaaaaaaaaaaaaaa0000000002000c0044006f006d00610069006e0001000c0053006500' +
    '72007600650072000000000000000000c5dad2544fc9799094ce1ce90bc9d03e',
);

test('MS-NLMP 4.2.2.1.2 NTOWFv1 and 4.2.4.1.1 NTOWFv2 (ResponseKeyNT)', () => {
  assert.equal(toHex(ntHash(PASSWORD)), 'a4f49c406510bdcab6824ee7c30fd852');
  assert.equal(toHex(ntowfv2(ntHash(PASSWORD), USER, DOMAIN)), '0c868a403bfd7a93a3001ef22ef02e3f');
});

test('MS-NLMP 4.2.4.1.3 temp, 4.2.4.2.2 NTProofStr, 4.2.4.2.1 LMv2, 4.2.4.1.2 SessionBaseKey, 4.2.4.2.3 EncryptedRandomSessionKey', () => {
  const key = ntowfv2(ntHash(PASSWORD), USER, DOMAIN);
  const temp = encodeClientChallenge({ timestamp: TIME, clientChallenge: CLIENT_CHALLENGE, avPairs: decodeAvPairs(AV_PAIRS_424) });
  assert.equal(
    toHex(temp),
    '0101000000000000' +
      '0000000000000000' +
      'aaaaaaaaaaaaaaaa' +
      '00000000' +
      '02000c0044006f006d00610069006e00' +
      '01000c00530065007200760065007200' +
      '00000000' +
      '00000000',
  );
  const proof = ntProofStr(key, SERVER_CHALLENGE, temp);
  assert.equal(toHex(proof), '68cd0ab851e51c96aabc927bebef6a1c');
  assert.equal(toHex(lmv2Response(key, SERVER_CHALLENGE, CLIENT_CHALLENGE)), '86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa');
  const kx = sessionBaseKey(key, proof);
  assert.equal(toHex(kx), '8de40ccadbc14a82f15cb0ad0de95ca3');
  assert.equal(toHex(rc4(kx, RANDOM_SESSION_KEY)), 'c5dad2544fc9799094ce1ce90bc9d03e');
});

test('MS-NLMP 3.4.5.2 SIGNKEY and 3.4.5.3 SEALKEY (128/56/40-bit) for the 4.2.4 session key', () => {
  assert.equal(toHex(signKey(RANDOM_SESSION_KEY, 'client')), '4788dc861b4782f35d43fd98fe1a2d39');
  assert.equal(toHex(signKey(RANDOM_SESSION_KEY, 'server')), 'd04d6f10741041d1d246d64188d7a8ad');
  assert.equal(toHex(sealKey(RANDOM_SESSION_KEY, 'client', 128)), '59f600973cc4960a25480a7c196e4c58');
  assert.equal(toHex(sealKey(RANDOM_SESSION_KEY, 'server', 128)), '9355f3a957c1583d25c4c2f11e40390e');
  assert.equal(toHex(sealKey(RANDOM_SESSION_KEY, 'client', 56)), 'a5f7253c1065e8d3d68642040e71cfe0');
  assert.equal(toHex(sealKey(RANDOM_SESSION_KEY, 'server', 56)), '583e2f98959b385cd158f3734b5f5d3f');
  assert.equal(toHex(sealKey(RANDOM_SESSION_KEY, 'client', 40)), '42f964a471091a02ff4a77455366e4e5');
  assert.equal(toHex(sealKey(RANDOM_SESSION_KEY, 'server', 40)), 'c5d3853b406b7c1241c595f0ce0750e2');
});

test('MS-NLMP 4.2.4.4 GSS_WrapEx: sealed "Plaintext" and its signature (with and without key exchange)', () => {
  const plaintext = utf16le('Plaintext');
  assert.equal(toHex(plaintext), '50006c00610069006e007400650078007400');
  const s = new NtlmSession(RANDOM_SESSION_KEY, FLAGS_424, 'initiator');
  const { sealed, signature } = s.wrap(plaintext);
  assert.equal(toHex(sealed), '54e50165bf1936dc996020c1811b0f06fb5f');
  assert.equal(toHex(signature), '010000007fb38ec5c55d497600000000');
  const noKx = new NtlmSession(RANDOM_SESSION_KEY, (FLAGS_424 & ~F.KEY_EXCH) >>> 0, 'initiator').wrap(plaintext);
  assert.equal(toHex(noKx.sealed), '54e50165bf1936dc996020c1811b0f06fb5f');
  assert.equal(toHex(noKx.signature), '0100000070352851f256430900000000');
  // ... and the acceptor side unseals it (server-to-client keys are the acceptor's "out", client-to-server its "in").
  const acc = new NtlmSession(RANDOM_SESSION_KEY, FLAGS_424, 'acceptor');
  assert.equal(toHex(acc.unwrap(signature, sealed)), toHex(plaintext));
});

test('MS-NLMP 4.2.4.3 CHALLENGE_MESSAGE decodes', () => {
  const ch = decodeChallenge(CHALLENGE_424);
  assert.equal(ch.flags >>> 0, 0xe28a8233);
  assert.equal(ch.targetName, 'Server');
  assert.equal(toHex(ch.serverChallenge), '0123456789abcdef');
  assert.equal(toHex(ch.targetInfoRaw), toHex(AV_PAIRS_424));
  assert.deepEqual(ch.version, { major: 6, minor: 0, build: 6000, revision: 15 });
});

test('MS-NLMP 4.2.4.3 AUTHENTICATE_MESSAGE: our initiator produces the same responses and session key', async () => {
  const randoms = [CLIENT_CHALLENGE, RANDOM_SESSION_KEY];
  const ini = new NtlmInitiator({
    credentials: { username: `${DOMAIN}\\${USER}`, password: PASSWORD },
    workstation: 'COMPUTER',
    now: () => -11644473600000, // FILETIME 0 (4.2.1 Time)
    random: () => randoms.shift()!,
  });
  const neg = (await ini.step())!;
  assert.equal(neg.length, 40, 'NEGOTIATE is always the 40-byte form with Version');
  const auth = decodeAuthenticate((await ini.step(CHALLENGE_424))!);
  const want = decodeAuthenticate(AUTHENTICATE_424);
  assert.equal(toHex(auth.ntChallengeResponse), toHex(want.ntChallengeResponse));
  assert.equal(toHex(auth.lmChallengeResponse), toHex(want.lmChallengeResponse));
  assert.equal(toHex(auth.encryptedRandomSessionKey), 'c5dad2544fc9799094ce1ce90bc9d03e');
  assert.equal(auth.userName, USER);
  assert.equal(auth.domainName, DOMAIN);
  assert.equal(auth.workstation, 'COMPUTER');
  assert.equal(auth.mic !== undefined && auth.mic.every((b) => b === 0), true, 'no timestamp in target info -> no MIC');
  assert.ok(ini.complete);
  const { header, data } = await ini.wrapWinrm(utf16le('Plaintext'));
  assert.equal(toHex(data), '54e50165bf1936dc996020c1811b0f06fb5f');
  assert.equal(toHex(header), '010000007fb38ec5c55d497600000000');
});

test('MS-NLMP 4.2.4.3 AUTHENTICATE_MESSAGE: our acceptor verifies the spec message and derives the same keys', async () => {
  const users = {
    lookup: (d: string, u: string) =>
      d.toLowerCase() === 'domain' && u.toLowerCase() === 'user' ? { domain: 'Domain', user: 'User', password: PASSWORD } : undefined,
  };
  const acc = new NtlmAcceptor({ userDb: users, random: () => SERVER_CHALLENGE });
  await acc.step(encodeNegotiate({ flags: FLAGS_424 }));
  assert.equal(await acc.step(AUTHENTICATE_424), undefined);
  assert.ok(acc.complete);
  assert.deepEqual(acc.identity, { domain: 'Domain', user: 'User', logonType: 'network', mechanism: 'ntlm' });
  // the client's sealed "Plaintext" (4.2.4.4) unwraps with the derived session key
  const pt = await acc.unwrapWinrm(fromHex('010000007fb38ec5c55d497600000000'), fromHex('54e50165bf1936dc996020c1811b0f06fb5f'));
  assert.equal(toHex(pt), toHex(utf16le('Plaintext')));
});

test('protocol.md 2.4 channel bindings: tls-server-end-point struct and its MD5', () => {
  const app = concatBytes(
    new TextEncoder().encode('tls-server-end-point:'),
    fromHex('E3CA49271E5089CC48CE82109F1324F41DBEDDC29A777410C738F7868C4FF405'),
  );
  const s = encodeChannelBindings({ applicationData: app });
  assert.equal(toHex(s.subarray(0, 20)), '00'.repeat(16) + '35000000');
  assert.equal(toHex(channelBindingsHash({ applicationData: app })), '6ea19df066da4622051f9c4f92c6df74');
});
