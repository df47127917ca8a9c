import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as der from '../../src/asn1/der.js';
import { DerReader, TagClass } from '../../src/asn1/der.js';
import { RemoteProtocolError } from '../../src/errors.js';
import { fromHex, toHex } from '../../src/util/bytes.js';

const hex = (b: Uint8Array) => toHex(b);

test("der: INTEGER vectors (X.690 8.3, two's complement, minimal)", () => {
  const cases: [number | bigint, string][] = [
    [0, '020100'],
    [1, '020101'],
    [127, '02017f'],
    [128, '02020080'],
    [255, '020200ff'],
    [256, '02020100'],
    [-1, '0201ff'],
    [-128, '020180'],
    [-129, '0202ff7f'],
    [-256, '0202ff00'],
    [-257, '0202feff'],
    [6, '020106'],
    [0x7fffffff, '02047fffffff'],
    [-0x3ffffff3, '0204c000000d'],
    [0xc000006d, '020500c000006d'],
    [2n ** 64n, '0209010000000000000000'],
    [-(2n ** 63n), '02088000000000000000'],
  ];
  for (const [v, h] of cases) {
    assert.equal(hex(der.integer(v)), h, `encode ${v}`);
    assert.equal(new DerReader(fromHex(h)).integer(), BigInt(v), `decode ${h}`);
  }
  assert.equal(new DerReader(fromHex('020100')).integerNumber(), 0);
  assert.throws(() => new DerReader(fromHex('0209010000000000000000')).integerNumber(), RemoteProtocolError);
  assert.equal(hex(der.unsignedInteger(fromHex('0000ff01'))), '020300ff01');
  assert.equal(hex(der.unsignedInteger(fromHex('7f'))), '02017f');
});

test('der: lengths short and long form', () => {
  assert.equal(hex(der.encodeLength(0)), '00');
  assert.equal(hex(der.encodeLength(127)), '7f');
  assert.equal(hex(der.encodeLength(128)), '8180');
  assert.equal(hex(der.encodeLength(256)), '820100');
  assert.equal(hex(der.encodeLength(0x10000)), '83010000');
  for (const n of [0, 1, 127, 128, 255, 256, 65535, 65536, 100000]) {
    const body = new Uint8Array(n).fill(7);
    const enc = der.octetString(body);
    const el = der.decode(enc);
    assert.equal(el.value.length, n);
    assert.equal(el.end, enc.length);
  }
  // non-minimal long form is tolerated on read (seen from real peers), indefinite is not
  assert.equal(der.decode(fromHex('04810161')).value.length, 1);
  assert.throws(() => der.decode(fromHex('0480610000')), /indefinite/);
});

test('der: OID vectors', () => {
  const cases: [string, string][] = [
    ['1.3.6.1.5.5.2', '06062b0601050502'],
    ['1.2.840.113554.1.2.2', '06092a864886f712010202'],
    ['1.2.840.48018.1.2.2', '06092a864882f712010202'],
    ['1.3.6.1.4.1.311.2.2.10', '060a2b06010401823702020a'],
    ['1.2.840.113549.1.1.11', '06092a864886f70d01010b'],
    ['2.5.4.3', '0603550403'],
    ['2.999.3', '0603883703'],
  ];
  for (const [o, h] of cases) {
    assert.equal(hex(der.oid(o)), h, o);
    assert.equal(new DerReader(fromHex(h)).oid(), o);
  }
  assert.throws(() => der.oid('1'), RangeError);
  assert.throws(() => der.oid('3.1'), RangeError);
  assert.throws(() => new DerReader(fromHex('06022b86')).oid(), /truncated/);
  assert.throws(() => new DerReader(fromHex('0600')).oid(), RemoteProtocolError);
});

test('der: strings, BIT STRING, ENUMERATED, BOOLEAN, NULL, times', () => {
  assert.equal(hex(der.octetString(fromHex('313233'))), '0403313233');
  assert.equal(hex(der.bitString(fromHex('a0'), 5)), '030205a0');
  assert.deepEqual(new DerReader(fromHex('030205a0')).bitString(), { bytes: fromHex('a0'), unusedBits: 5 });
  assert.throws(() => new DerReader(fromHex('030108')).bitString(), RemoteProtocolError);
  assert.equal(hex(der.enumerated(1)), '0a0101');
  assert.equal(new DerReader(fromHex('0a0103')).enumerated(), 3);
  assert.equal(hex(der.boolean(true)), '0101ff');
  assert.equal(new DerReader(fromHex('010100')).boolean(), false);
  assert.equal(hex(der.nullValue()), '0500');
  assert.equal(hex(der.generalString('EXAMPLE.COM')), '1b0b4558414d504c452e434f4d');
  assert.equal(new DerReader(fromHex('1b0b4558414d504c452e434f4d')).generalString(), 'EXAMPLE.COM');
  assert.equal(new DerReader(der.utf8String('héllo ✓')).utf8String(), 'héllo ✓');
  assert.throws(() => new DerReader(fromHex('0c01ff')).utf8String(), RemoteProtocolError);
  const d = new Date(Date.UTC(2026, 10, 28, 23, 5, 9));
  assert.equal(new DerReader(der.generalizedTime(d)).time(), '20261128230509Z');
  assert.equal(new DerReader(der.utcTime(d)).time(), '261128230509Z');
});

test('der: tags — context [n], application, high tag numbers', () => {
  assert.equal(hex(der.explicit(0, der.integer(6))), 'a003020106');
  assert.equal(hex(der.implicit(1, fromHex('aa'))), '8101aa');
  assert.equal(hex(der.application(0, der.oid('1.3.6.1.5.5.2'))), '600806062b0601050502');
  assert.equal(hex(der.tlv(TagClass.Application, true, 30, new Uint8Array())), '7e00');
  assert.equal(hex(der.tlv(TagClass.Context, true, 31, new Uint8Array())), 'bf1f00');
  assert.equal(hex(der.tlv(TagClass.Context, false, 200, fromHex('01'))), '9f81480101');
  const el = der.decode(fromHex('9f81480101'));
  assert.deepEqual(el.tag, { cls: TagClass.Context, constructed: false, number: 200 });
  assert.throws(() => der.decode(fromHex('9f0500')), /high tag form/);
  assert.throws(() => der.decode(fromHex('9f80050100')), /non-minimal/);
});

test('der: reader walks a SEQUENCE with optional fields (TSRequest vector, MS-CSSP 2.2.1)', () => {
  const v = fromHex(
    '3044a003020106a10b30093007a0050403313233a20b04096175746820696e666fa30e040c707562206b65792061757468a4' +
      '0302010aa50e040c636c69656e74206e6f6e6365',
  );
  const r = new DerReader(v).sequence();
  assert.equal(r.explicit(0).integerNumber(), 6);
  const nego = r.optionalExplicit(1)!.sequence();
  assert.equal(Buffer.from(nego.sequence().explicit(0).octetString()).toString(), '123');
  assert.equal(r.optionalExplicit(9), undefined);
  assert.equal(Buffer.from(r.optionalExplicit(2)!.octetString()).toString(), 'auth info');
  assert.equal(Buffer.from(r.explicit(3).octetString()).toString(), 'pub key auth');
  assert.equal(r.explicit(4).integerNumber(), 10);
  assert.equal(Buffer.from(r.explicit(5).octetString()).toString(), 'client nonce');
  r.end();
  // and the writer produces the same bytes
  const enc = der.sequence(
    der.explicit(0, der.integer(6)),
    der.explicit(1, der.sequence(der.sequence(der.explicit(0, der.octetString(new TextEncoder().encode('123')))))),
    der.explicit(2, der.octetString(new TextEncoder().encode('auth info'))),
    der.explicit(3, der.octetString(new TextEncoder().encode('pub key auth'))),
    der.explicit(4, der.integer(10)),
    der.explicit(5, der.octetString(new TextEncoder().encode('client nonce'))),
  );
  assert.equal(hex(enc), hex(v));
  assert.equal(der.children(der.decode(v)).length, 6);
});

test('der: bounds checks give RemoteProtocolError', () => {
  const bads = ['', '30', '3005', '300502', '04850000000001', '3003020101ff', '02000000', '3080', '1f', '3f8181'];
  for (const h of bads) assert.throws(() => der.decode(fromHex(h)), RemoteProtocolError, h);
  assert.throws(() => new DerReader(fromHex('020101')).octetString(), /expected OctetString, got Integer/);
  assert.throws(() => new DerReader(fromHex('')).integer(), /data ended/);
  assert.throws(() => {
    const r = new DerReader(fromHex('020101020102'));
    r.integer();
    r.end();
  }, /unexpected Integer/);
  assert.throws(() => new DerReader(fromHex('0200')).integer(), /no content/);
  assert.throws(() => der.children(der.decode(fromHex('0400'))), /primitive/);
  assert.throws(() => der.children(der.decode(fromHex('30020401'))), RemoteProtocolError);
});

test('der: SET sorts member encodings', () => {
  assert.equal(hex(der.set(der.integer(2), der.integer(1))), '3106020101020102');
});
