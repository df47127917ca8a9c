// SPNEGO token codecs (RFC 4178 4.2, RFC 2743 3.1 framing; MS-SPNG 2.2.1 NegTokenInit2): exact DER layout of what
// we send, and tolerant decoding of what Windows / MIT send.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../../src/util/bytes.js';
import { AuthError } from '../../src/errors.js';
import { application, explicit, generalString, octetString, oid, sequence } from '../../src/asn1/der.js';
import {
  MechOid,
  NegState,
  decodeNegotiationToken,
  encodeMechTypes,
  encodeNegTokenInit,
  encodeNegTokenResp,
} from '../../src/auth/spnego/tokens.js';

const NTLM_OID_DER = '060a2b06010401823702020a';

test('NegTokenInit for NTLM: InitialContextToken(SPNEGO OID, [0] SEQUENCE{ [0] mechTypes, [2] mechToken })', () => {
  const tok = encodeNegTokenInit({ mechTypesRaw: encodeMechTypes([MechOid.NTLM]), mechToken: fromHex('4e544c4d53535000') });
  assert.equal(
    toHex(tok),
    '6028' + '06062b0601050502' + 'a01e' + '301c' + 'a00e' + '300c' + NTLM_OID_DER + 'a20a' + '0408' + '4e544c4d53535000',
  );
  const d = decodeNegotiationToken(tok);
  assert.ok(d.kind === 'init');
  assert.deepEqual(d.mechTypes, [MechOid.NTLM]);
  assert.equal(toHex(d.mechTypesRaw), '300c' + NTLM_OID_DER, 'mechListMIC covers the mechTypes DER exactly as sent');
  assert.equal(toHex(d.mechToken!), '4e544c4d53535000');
});

test('NegTokenResp: [1] SEQUENCE{ [0] negState, [1] supportedMech, [2] responseToken, [3] mechListMIC } round trip', () => {
  const tok = encodeNegTokenResp({
    negState: NegState.ACCEPT_INCOMPLETE,
    supportedMech: MechOid.NTLM,
    responseToken: fromHex('0102'),
    mechListMIC: fromHex('0a0b'),
  });
  assert.equal(toHex(tok), 'a1' + '21' + '301f' + 'a0030a0101' + 'a10c' + NTLM_OID_DER + 'a2040402' + '0102' + 'a3040402' + '0a0b');
  const d = decodeNegotiationToken(tok);
  assert.deepEqual(d, {
    kind: 'resp',
    negState: 1,
    supportedMech: MechOid.NTLM,
    responseToken: fromHex('0102'),
    mechListMIC: fromHex('0a0b'),
  });
  // the final Windows-style accept-completed with only a MIC (what a gss-ntlmssp/MIT acceptor sends: 29 bytes)
  const fin = encodeNegTokenResp({ negState: NegState.ACCEPT_COMPLETED, mechListMIC: new Uint8Array(16) });
  assert.equal(fin.length, 29);
});

test('NegTokenInit2 from a server (MS-SPNG 2.2.1: [3] negHints, [4] mechListMIC) decodes', () => {
  const hints = explicit(3, sequence(explicit(0, generalString('not_defined_in_RFC4178@please_ignore'))));
  const body = sequence(
    explicit(0, encodeMechTypes([MechOid.MS_KRB5, MechOid.KRB5, MechOid.NTLM])),
    hints,
    explicit(4, octetString(fromHex('aa'))),
  );
  const d = decodeNegotiationToken(application(0, oid(MechOid.SPNEGO), explicit(0, body)));
  assert.ok(d.kind === 'init');
  assert.deepEqual(d.mechTypes, [MechOid.MS_KRB5, MechOid.KRB5, MechOid.NTLM]);
  assert.equal(toHex(d.mechListMIC!), 'aa');
});

test('non-SPNEGO tokens are refused with a helpful AuthError', () => {
  assert.throws(
    () => decodeNegotiationToken(fromHex('4e544c4d5353500001000000')),
    (e: Error) => e instanceof AuthError && /first byte 0x4e/.test(e.message),
  );
  assert.throws(
    () => decodeNegotiationToken(application(0, oid(MechOid.KRB5), fromHex('0100'))),
    (e: Error) => e instanceof AuthError && /1\.2\.840\.113554\.1\.2\.2/.test(e.message),
  );
  assert.throws(() => decodeNegotiationToken(fromHex('a1053003a00100')), AuthError);
  assert.throws(() => decodeNegotiationToken(new Uint8Array(0)), AuthError);
});
