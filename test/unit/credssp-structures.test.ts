import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TSRequest, NegoData } from '../../src/auth/credssp/ts-request.js';
import { TSCredentials, TSPasswordCreds, CredType } from '../../src/auth/credssp/ts-credentials.js';
import { clientPubKeyAuth, serverPubKeyAuth } from '../../src/auth/credssp/pub-key-auth.js';
import { tlsTrailerLength } from '../../src/auth/credssp/trailer.js';
import { ntStatusText } from '../../src/auth/credssp/ntstatus.js';
import { DerReader } from '../../src/asn1/der.js';
import { RemoteProtocolError, InvalidTokenError } from '../../src/errors.js';
import { fromHex, toHex, utf8 } from '../../src/util/bytes.js';

// protocol.md 4.1, from pyspnego tests/test_credssp_structures.py (MS-CSSP 2.2.1)
const TSREQUEST_HEX =
  '3044a003020106a10b30093007a0050403313233a20b04096175746820696e666fa30e040c707562206b65792061757468a4' +
  '0302010aa50e040c636c69656e74206e6f6e6365';
const TSCREDS_HEX =
  '304da003020101a14604443042a018041664006f006d00610069006e0020006e0061006d006500a112041075007300650072' +
  '006e0061006d006500a2120410700061007300730077006f0072006400';

test('tsrequest: encode/decode the MS-CSSP 2.2.1 vector (pyspnego)', () => {
  const m = {
    version: 6,
    negoTokens: [utf8('123')],
    authInfo: utf8('auth info'),
    pubKeyAuth: utf8('pub key auth'),
    errorCode: 10,
    clientNonce: utf8('client nonce'),
  };
  assert.equal(toHex(TSRequest.encode(m)), TSREQUEST_HEX);
  const d = TSRequest.decode(fromHex(TSREQUEST_HEX));
  assert.deepEqual(d, m);
  assert.equal(TSRequest.frameLength(fromHex(TSREQUEST_HEX)), 70);
  assert.equal(TSRequest.frameLength(fromHex(TSREQUEST_HEX).subarray(0, 69)), 0);
});

test('tsrequest: round trips for versions 2..6, optional fields, several negoTokens', () => {
  for (let v = 2; v <= 6; v++) {
    const cases = [
      { version: v },
      { version: v, negoTokens: [new Uint8Array(300).fill(v)] },
      { version: v, negoTokens: [utf8('a'), utf8('bb')] },
      { version: v, pubKeyAuth: new Uint8Array(48).fill(1), clientNonce: new Uint8Array(32).fill(2) },
      { version: v, authInfo: new Uint8Array(70000).fill(3) },
    ];
    for (const m of cases) assert.deepEqual(TSRequest.decode(TSRequest.encode(m)), m);
  }
});

test('tsrequest: errorCode is a signed 32-bit NTSTATUS on the wire, unsigned in the API', () => {
  const enc = TSRequest.encode({ version: 6, errorCode: 0xc000006d });
  assert.equal(toHex(enc), '300da003020106a4060204c000006d');
  assert.equal(TSRequest.decode(enc).errorCode, 0xc000006d);
  // the unsigned form (as some encoders write it) is read the same
  const unsigned = fromHex('300ea003020106a407020500c000006d');
  assert.equal(TSRequest.decode(unsigned).errorCode, 0xc000006d);
  // FreeRDP's errorCode 0xc00700ea (NTLM flags) as seen in peers/README
  assert.equal(TSRequest.decode(TSRequest.encode({ version: 6, errorCode: 0xc00700ea })).errorCode, 0xc00700ea);
});

test('tsrequest: bad input -> InvalidTokenError (CredSSP)', () => {
  const bads = [
    '',
    '3000',
    '3003a00100',
    '3005a003020100', // version 0
    '3005a1030201063005',
    '3007a003020106ff00', // trailing / unknown
    '3009a003020106a1020400', // negoTokens not a SEQUENCE
    '300aa003020106a4030401ff', // errorCode not INTEGER
    '3010a003020106a409020700ffffffffffff', // errorCode out of range
    '0403010203',
  ];
  for (const h of bads)
    assert.throws(
      () => TSRequest.decode(fromHex(h)),
      (e: unknown) => e instanceof InvalidTokenError && e.mechanism === 'CredSSP',
      h,
    );
  assert.throws(() => TSRequest.frameLength(fromHex('0401')), RemoteProtocolError);
  assert.throws(() => TSRequest.frameLength(fromHex('3084ffffffff')), /limit/);
  assert.equal(TSRequest.frameLength(fromHex('3082')), 0);
});

test('tscredentials: MS-CSSP 2.2.1.2 vector (pyspnego) and round trip', () => {
  const enc = TSCredentials.password({ domainName: 'domain name', userName: 'username', password: 'password' });
  assert.equal(toHex(enc), TSCREDS_HEX);
  const d = TSCredentials.decode(fromHex(TSCREDS_HEX));
  assert.equal(d.credType, CredType.Password);
  assert.deepEqual(TSPasswordCreds.decode(d.credentials), { domainName: 'domain name', userName: 'username', password: 'password' });
  const u = { domainName: '', userName: 'alice@example.com', password: 'pä$$ wörd ✓' };
  assert.deepEqual(TSPasswordCreds.decode(TSPasswordCreds.encode(u)), u);
  assert.throws(() => TSPasswordCreds.decode(fromHex('3009a0030401ffa100a200')), RemoteProtocolError);
  assert.throws(() => TSPasswordCreds.decode(fromHex('300da0030401ffa1020400a2020400')), /odd length/);
});

test('negodata: SEQUENCE OF SEQUENCE { [0] OCTET STRING }', () => {
  const enc = NegoData.encode([utf8('123')]);
  assert.equal(toHex(enc), '30093007a0050403313233');
  assert.deepEqual(NegoData.decode(new DerReader(enc)), [utf8('123')]);
});

test('pubKeyAuth: MS-CSSP 3.1.5 vectors (protocol.md 4.2, pyspnego test_pub_key_auth)', () => {
  const pub = fromHex('0001'),
    nonce = fromHex('0000');
  assert.equal(toHex(clientPubKeyAuth(6, pub, nonce)), '4590c26c837dacdf3da8fae578264d9e45486afc3951f21ef357064cd55fbbb5');
  assert.equal(toHex(serverPubKeyAuth(6, pub, nonce)), 'cdf4ffee6cb6395e5b692c2da397386f6a1eab2d3a6271816a04c7a2914d333f');
  assert.equal(toHex(clientPubKeyAuth(5, pub, nonce)), '4590c26c837dacdf3da8fae578264d9e45486afc3951f21ef357064cd55fbbb5');
  for (const v of [2, 3, 4]) {
    assert.equal(toHex(clientPubKeyAuth(v, pub)), '0001');
    assert.equal(toHex(serverPubKeyAuth(v, pub)), '0101');
  }
  assert.equal(toHex(serverPubKeyAuth(2, fromHex('ff02'))), '0002');
  assert.throws(() => clientPubKeyAuth(6, pub), RangeError);
});

test('trailer length: protocol.md 1.4 vectors (pyspnego test_get_credssp_trailer_length, data_len=30)', () => {
  const cases: [string, string, number][] = [
    ['TLSv1.3', 'TLS_AES_256_GCM_SHA384', 17],
    ['TLSv1.2', 'ECDHE-RSA-AES128-GCM-SHA256', 16],
    ['TLSv1.2', 'RC4-MD5', 16],
    ['TLSv1.2', 'ECDH-ECDSA-3DES-SHA256', 34],
    ['TLSv1.2', 'ECDH-RSA-AES-SHA384', 50],
    ['TLSv1.2', 'ECDH-RSA-AES', 2],
  ];
  for (const [p, c, n] of cases) assert.equal(tlsTrailerLength(30, p, c), n, c);
});

test('ntstatus: shown as text', () => {
  assert.equal(ntStatusText(0xc000006d), '0xC000006D STATUS_LOGON_FAILURE (the user name or password is incorrect)');
  assert.equal(ntStatusText(-0x3fffff93), '0xC000006D STATUS_LOGON_FAILURE (the user name or password is incorrect)');
  assert.equal(ntStatusText(0xc00700ea), '0xC00700EA (Win32 error 234)');
  assert.equal(ntStatusText(0x12345678), '0x12345678');
});
