/**
 * CLIXML unit tests: vectors (MS-PSRP 2.2.5, PowerShell 7.6.9 output, pypsrp transcripts), every primitive,
 * Ref/TNRef, collections, enums, SecureString, toPlain, and a seeded random round-trip property.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { inspect, isDeepStrictEqual } from 'node:util';
import {
  ClixmlRefs,
  decodeClixmlString,
  deserialize,
  deserializeDocument,
  deserializeDocumentItems,
  encodeClixmlString,
  parseDateTime,
  parseDuration,
  ps,
  PSDateTime,
  PSDict,
  PSList,
  PSObject,
  PSPrimitive,
  PSSecureString,
  PSTimeSpan,
  serialize,
  serializeDocument,
  toPlain,
  TN_ORDERED,
  type ClixmlValue,
  type PSValue,
  type SecureStringCipher,
} from '../../src/clixml/index.js';
import { ClixmlError, InvalidArgumentError, LocalProtocolError } from '../../src/errors.js';
import { canonicalDump } from '../helpers/corpus.js';
import { parseXml } from '../../src/xml/dom.js';
import { directPathTakes } from '../../src/clixml/deserialize.js';

const rt = (v: PSValue): ClixmlValue => deserialize(serialize(v));

test('string escaping: MS-PSRP 2.2.5.3.2 and a pypsrp transcript vector', () => {
  // from test_psrp_multiple_commands.yml (real Windows output)
  const wire = 'こんにちは - actual_x005F_x000A_string_x000A_newline: _xD801__xDC37_';
  const text = 'こんにちは - actual_x000A_string\nnewline: \u{10437}';
  assert.equal(decodeClixmlString(wire), text);
  assert.equal(encodeClixmlString(text), wire);
  // PowerShell 7.6.9 PSSerializer output for this string
  const s = 'a_x0041_b_X\n\t\r\x7f\x85😀\ud800&<>"\'';
  assert.equal(serialize(s), '<S>a_x005F_x0041_b_x005F_X_x000A__x0009__x000D__x007F__x0085__xD83D__xDE00__xD800_&amp;&lt;&gt;"\'</S>');
  assert.equal(deserialize(serialize(s)), s);
  assert.equal(decodeClixmlString('_x0041__x0042_ _xzz_ _x41_'), 'AB _xzz_ _x41_');
  assert.equal(decodeClixmlString('lower_xd83d__xde00_'), 'lower😀');
  assert.equal(encodeClixmlString('plain text'), 'plain text');
  for (const c of ['\u0000', '\u001f', '\u007f', '\u009f', '\ufffe', '\uffff', '\udc00'])
    assert.equal(decodeClixmlString(encodeClixmlString(c)), c);
  assert.equal(encodeClixmlString('\u00a0é'), '\u00a0é');
});

test('property names are escaped like strings', () => {
  const o = PSObject.custom({ 'a\nb': 1, _x0041_: 2, 'x"y': 3 });
  const xml = serialize(o);
  assert.match(xml, /N="a_x000A_b"/);
  assert.match(xml, /N="_x005F_x0041_"/);
  assert.match(xml, /N="x&quot;y"/);
  const back = deserialize(xml) as PSObject;
  assert.deepEqual([...back.extended.keys()], ['a\nb', '_x0041_', 'x"y']);
});

test('plain JS mapping', () => {
  assert.equal(serialize(null), '<Nil />');
  assert.equal(serialize(undefined), '<Nil />');
  assert.equal(serialize('x', { name: 'n' }), '<S N="n">x</S>');
  assert.equal(serialize(true), '<B>true</B>');
  assert.equal(serialize(42), '<I32>42</I32>');
  assert.equal(serialize(-2147483648), '<I32>-2147483648</I32>');
  assert.equal(serialize(2147483648), '<Db>2147483648</Db>');
  assert.equal(serialize(1.5), '<Db>1.5</Db>');
  assert.equal(serialize(-0), '<Db>-0</Db>');
  assert.equal(serialize(NaN), '<Db>NaN</Db>');
  assert.equal(serialize(-Infinity), '<Db>-INF</Db>');
  assert.equal(serialize(1e21), '<Db>1E+21</Db>');
  assert.equal(serialize(5n), '<I64>5</I64>');
  assert.equal(serialize(new Uint8Array([1, 2, 3])), '<BA>AQID</BA>');
  assert.equal(serialize(new Date(Date.UTC(2008, 3, 11, 10, 42, 32, 5))), '<DT>2008-04-11T10:42:32.005Z</DT>');
  assert.equal(
    serialize([1, 'a']),
    '<Obj RefId="0"><TN RefId="0"><T>System.Object[]</T><T>System.Array</T><T>System.Object</T></TN><LST><I32>1</I32><S>a</S></LST></Obj>',
  );
  assert.equal(
    serialize({ k: 1 }),
    '<Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T><T>System.Object</T></TN><DCT><En><S N="Key">k</S><I32 ' +
      'N="Value">1</I32></En></DCT></Obj>',
  );
  assert.equal(
    serialize(new Map<PSValue, PSValue>([[1, 'one']])),
    '<Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T><T>System.Object</T></TN><DCT><En><I32 N="Key">1</I32><S ' +
      'N="Value">one</S></En></DCT></Obj>',
  );
  assert.throws(() => serialize(Symbol('x') as unknown as PSValue), InvalidArgumentError);
  assert.throws(() => serialize(new (class Foo {})() as unknown as PSValue), InvalidArgumentError);
  assert.equal(rt(42), 42);
  assert.equal(rt('x'), 'x');
  assert.equal(rt(false), false);
  assert.equal(rt(null), null);
});

test('every primitive: exact wire text (as PowerShell 7.6.9 writes it) and round trip', () => {
  const cases: Array<[PSPrimitive, string]> = [
    [ps.char('A'), '<C>65</C>'],
    [ps.byte(255), '<By>255</By>'],
    [ps.sbyte(-128), '<SB>-128</SB>'],
    [ps.int16(-32768), '<I16>-32768</I16>'],
    [ps.uint16(65535), '<U16>65535</U16>'],
    [ps.int32(7), '<I32>7</I32>'],
    [ps.uint32(4294967295), '<U32>4294967295</U32>'],
    [ps.int64(-(2n ** 63n)), '<I64>-9223372036854775808</I64>'],
    [ps.uint64(2n ** 64n - 1n), '<U64>18446744073709551615</U64>'],
    [ps.single(0.1), '<Sg>0.1</Sg>'],
    [ps.single(1e-45), '<Sg>1E-45</Sg>'],
    [ps.double(0.1), '<Db>0.1</Db>'],
    [ps.double(Infinity), '<Db>INF</Db>'],
    [ps.decimal('1.50'), '<D>1.50</D>'],
    [ps.decimal('79228162514264337593543950335'), '<D>79228162514264337593543950335</D>'],
    [ps.bool(true), '<B>true</B>'],
    [ps.string('s'), '<S>s</S>'],
    [ps.guid('792E5B37-4505-47EF-B7D2-8711BB7AFFA8'), '<G>792e5b37-4505-47ef-b7d2-8711bb7affa8</G>'],
    [ps.uri('http://x/a b'), '<URI>http://x/a b</URI>'],
    [ps.version('1.2.3.4'), '<Version>1.2.3.4</Version>'],
    [ps.xmlDocument('<a x="1"><b>t</b></a>'), '<XD>&lt;a x="1"&gt;&lt;b&gt;t&lt;/b&gt;&lt;/a&gt;</XD>'],
    [ps.scriptBlock("'c_x'"), "<SBK>'c_x005F_x'</SBK>"],
    [ps.bytes(new Uint8Array()), '<BA />'],
    [ps.timespan({ days: 1, hours: 2, minutes: 3, seconds: 4, milliseconds: 500 }), '<TS>P1DT2H3M4.5S</TS>'],
    [ps.timespan(-1n), '<TS>-PT0.0000001S</TS>'],
    [ps.timespan(0n), '<TS>PT0S</TS>'],
    [ps.timespan({ days: 2 }), '<TS>P2D</TS>'],
    [ps.datetime({ ticks: 638000000000000001n, kind: 'Unspecified' }), '<DT>2022-09-28T22:13:20.0000001</DT>'],
    [ps.datetime(new Date(Date.UTC(2008, 3, 11, 10, 42, 32))), '<DT>2008-04-11T10:42:32Z</DT>'],
  ];
  for (const [p, xml] of cases) {
    assert.equal(serialize(p), xml, p.tag);
    const back = deserialize(xml);
    if (p.tag === 'I32' || p.tag === 'S' || p.tag === 'B') assert.equal(back, p.value);
    else {
      assert.ok(back instanceof PSPrimitive, p.tag);
      assert.equal(back.tag, p.tag);
      assert.equal(serialize(back), xml, `${p.tag} re-serialized`);
    }
  }
  assert.throws(() => ps.byte(256), InvalidArgumentError);
  assert.throws(() => ps.int32(1.5), InvalidArgumentError);
  assert.throws(() => ps.uint64(-1n), InvalidArgumentError);
  assert.throws(() => ps.char('ab'), InvalidArgumentError);
  assert.throws(() => ps.guid('nope'), InvalidArgumentError);
  assert.throws(() => serialize(new PSPrimitive('I16', 40000)), InvalidArgumentError);
});

test('DateTime: kinds, offsets, 100 ns ticks, range', () => {
  const local = parseDateTime('2008-04-11T10:42:32.2731993-07:00')!;
  assert.equal(local.kind, 'Local');
  assert.equal(local.offsetMinutes, -420);
  assert.equal(local.toString(), '2008-04-11T10:42:32.2731993-07:00');
  assert.equal(local.toDate().toISOString(), '2008-04-11T17:42:32.273Z');
  assert.equal(local.utcTicks - parseDateTime('2008-04-11T17:42:32.2731993Z')!.ticks, 0n);
  assert.equal(parseDateTime('0001-01-01T00:00:00')!.ticks, 0n);
  assert.equal(parseDateTime('9999-12-31T23:59:59.9999999')!.ticks, 3155378975999999999n);
  assert.equal(parseDateTime('2024-02-29T00:00:00Z')!.toString(), '2024-02-29T00:00:00Z');
  assert.equal(parseDateTime('1970-01-01T00:00:00.1Z')!.toString(), '1970-01-01T00:00:00.1Z');
  for (const bad of [
    '2023-02-29T00:00:00Z',
    '2020-13-01T00:00:00',
    '2020-01-01T24:00:00',
    '2020-01-01',
    '2020-01-01T00:00:00.12345678Z',
    '2020-01-01T00:00:00+15:00',
    'x',
  ])
    assert.equal(parseDateTime(bad), undefined, bad);
  assert.throws(() => deserialize('<DT>2023-02-29T00:00:00Z</DT>'), ClixmlError);
  assert.equal(PSDateTime.fromDate(new Date(0)).toString(), '1970-01-01T00:00:00Z');
  assert.equal(toPlain(ps.datetime({ ticks: local.ticks, kind: 'Local', offsetMinutes: 330 })), '2008-04-11T10:42:32.2731993+05:30');
});

test('TimeSpan: xs:duration both ways', () => {
  const vec: Array<[string, bigint]> = [
    ['PT0S', 0n],
    ['P1DT2H3M4.5S', 937845000000n],
    ['-PT0.0000001S', -1n],
    ['PT1H', 36000000000n],
    ['P10675199DT2H48M5.4775807S', 2n ** 63n - 1n],
    ['-P10675199DT2H48M5.4775808S', -(2n ** 63n)],
  ];
  for (const [s, t] of vec) {
    assert.equal(parseDuration(s)!.ticks, t, s);
    assert.equal(new PSTimeSpan(t).toString(), s);
  }
  assert.equal(parseDuration('P1Y2M')!.ticks, (365n + 60n) * 864000000000n);
  assert.equal(parseDuration('PT1.123456789S')!.ticks, 11234567n);
  for (const bad of ['P', 'PT', '1D', 'P1H', 'PT1D', '-', 'P-1D']) assert.equal(parseDuration(bad), undefined, bad);
});

test('Ref/RefId and TN/TNRef: shared objects stay shared, cycles survive, numbering per call or shared', () => {
  const shared = PSObject.custom({ n: 1 });
  const xml = serialize([shared, shared, PSObject.custom({ o: shared })]);
  assert.equal(
    xml,
    '<Obj RefId="0"><TN RefId="0"><T>System.Object[]</T><T>System.Array</T><T>System.Object</T></TN><LST>' +
      '<Obj RefId="1"><TN RefId="1"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN><MS><I32 ' +
      'N="n">1</I32></MS></Obj>' +
      '<Ref RefId="1" /><Obj RefId="2"><TNRef RefId="1" /><MS><Ref N="o" RefId="1" /></MS></Obj></LST></Obj>',
  );
  const back = deserialize(xml) as PSObject;
  const items = (back.collection as PSList).items as PSObject[];
  assert.equal(items[0], items[1]);
  assert.equal(items[2]!.get('o'), items[0]);
  assert.deepEqual(items[2]!.typeNames, ['System.Management.Automation.PSCustomObject', 'System.Object']);
  assert.equal(serialize(back), xml);
  // cycle
  const cyc = new PSObject({ typeNames: ['System.Collections.Hashtable', 'System.Object'] });
  cyc.collection = new PSDict([['self', cyc]]);
  const cx = serialize(cyc);
  assert.equal(
    cx,
    '<Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T><T>System.Object</T></TN><DCT><En><S N="Key">self</S><Ref ' +
      'N="Value" RefId="0" /></En></DCT></Obj>',
  );
  const cb = deserialize(cx) as PSObject;
  assert.equal((cb.collection as PSDict).get('SELF'), cb);
  assert.deepEqual(toPlain(cb), { self: '[Circular]' });
  // shared numbering across calls (one PSRP message built in parts)
  const refs = new ClixmlRefs();
  assert.equal(
    serialize(PSObject.custom({}), { refs }),
    '<Obj RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN></Obj>',
  );
  assert.equal(serialize(PSObject.custom({}), { refs }), '<Obj RefId="1"><TNRef RefId="0" /></Obj>');
  // a plain-JS cycle: arrays are objects, so it becomes a Ref too
  const arr: PSValue[] = [];
  arr.push(arr);
  assert.equal(
    serialize(arr),
    '<Obj RefId="0"><TN RefId="0"><T>System.Object[]</T><T>System.Array</T><T>System.Object</T></TN><LST><Ref RefId="0" /></LST></Obj>',
  );
});

test('collections: LST, IE, STK, QUE, DCT (ordered kept in order)', () => {
  const o = PSObject.dict(
    [
      ['z', 1],
      ['a', 2],
    ],
    TN_ORDERED,
  );
  const b = rt(o) as PSObject;
  assert.deepEqual((b.collection as PSDict).entries, [
    ['z', 1],
    ['a', 2],
  ]);
  assert.equal(b.isType('System.Collections.Specialized.OrderedDictionary'), true);
  for (const kind of ['LST', 'IE', 'STK', 'QUE'] as const) {
    const x = new PSObject({ typeNames: ['T'], collection: new PSList(kind, [1, 'two', null]) });
    const y = rt(x) as PSObject;
    assert.equal((y.collection as PSList).kind, kind);
    assert.deepEqual((y.collection as PSList).items, [1, 'two', null]);
  }
  assert.deepEqual(toPlain(PSObject.stack([3, 2, 1])), [3, 2, 1]);
  assert.deepEqual(toPlain(rt({ a: [1, { b: 2n }] })), { a: [1, { b: 2 }] });
});

test('enums, ToString, adapted and extended properties, Deserialized type names, PSRP host-call shape', () => {
  // MS-PSRP host call (protocol.md 7.8, from a transcript)
  const xml =
    '<Obj RefId="0"><MS><I64 N="ci">1</I64><Obj N="mi" RefId="1"><TN RefId="0">' +
    '<T>System.Management.Automation.Remoting.RemoteHostMethodId</T><T>System.Enum</T><T>System.ValueType</T>' +
    '<T>System.Object</T></TN><ToString>ReadLine</ToString><I32>11</I32></Obj><Obj N="mp" RefId="2"><TN RefId="1">' +
    '<T>System.Collections.ArrayList</T><T>System.Object</T></TN><LST /></Obj></MS></Obj>';
  const v = deserialize(xml) as PSObject;
  assert.ok(v.get('ci') instanceof PSPrimitive);
  assert.equal((v.get('ci') as PSPrimitive<'I64'>).value, 1n);
  const mi = v.get('mi') as PSObject;
  assert.equal(mi.toStringValue, 'ReadLine');
  assert.equal(mi.value, 11);
  assert.ok(mi.isType('System.Enum'));
  assert.equal(toPlain(mi), 'ReadLine');
  assert.equal(serialize(v), xml);
  const built = new PSObject({
    extended: [
      ['ci', ps.int64(1n)],
      ['mi', PSObject.enum('System.Management.Automation.Remoting.RemoteHostMethodId', 'ReadLine', 11)],
      ['mp', PSObject.list([], ['System.Collections.ArrayList', 'System.Object'])],
    ],
  });
  assert.equal(serialize(built), xml);
  // adapted + extended + Deserialized.*
  const d = deserialize(
    '<Obj RefId="0"><TN RefId="0"><T>Deserialized.System.Diagnostics.Process</T><T>Deserialized.System.Object</T></TN>' +
      '<ToString>System.Diagnostics.Process (pwsh)</ToString><Props><I32 N="Id">42</I32><S N="Name">pwsh</S></Props><MS><S ' +
      'N="Note">n</S></MS></Obj>',
  ) as PSObject;
  assert.ok(d.isType('System.Diagnostics.Process'));
  assert.ok(d.isType('Deserialized.System.Diagnostics.Process'));
  assert.equal(d.get('id'), 42);
  assert.deepEqual(toPlain(d), { Id: 42, Name: 'pwsh', Note: 'n' });
  assert.equal(String(d), 'System.Diagnostics.Process (pwsh)');
  // an Obj whose base value is an Obj (seen in a Windows recording)
  const nested = deserialize('<Obj RefId="0"><ToString>x</ToString><Obj RefId="1"><MS><I32 N="a">1</I32></MS></Obj></Obj>') as PSObject;
  assert.ok(nested.value instanceof PSObject);
});

test('ProgressRecord <PR> both ways', () => {
  const xml = '<PR><AV>act</AV><AI>7</AI><S>op</S><PI>3</PI><PC>42</PC><T>Processing</T><SR>9</SR><SD>status_x000A_</SD></PR>';
  const v = deserialize(xml) as PSObject;
  assert.ok(v.isType('System.Management.Automation.ProgressRecord'));
  assert.deepEqual(toPlain(v), {
    Activity: 'act',
    ActivityId: 7,
    CurrentOperation: 'op',
    ParentActivityId: 3,
    PercentComplete: 42,
    RecordType: 'Processing',
    SecondsRemaining: 9,
    StatusDescription: 'status\n',
  });
  assert.equal(serialize(v), xml);
  assert.throws(() => deserialize('<PR><AV>a</AV><AI>x</AI><SD>s</SD></PR>'), ClixmlError);
});

test('SecureString: pluggable cipher, never revealed by printing', () => {
  const key = new Uint8Array(32).fill(7);
  const cipher: SecureStringCipher = {
    // MS-PSRP 3.1.4.11 shape: AES-256-CBC, zero IV, PKCS7
    encrypt: (b) => {
      const c = createCipheriv('aes-256-cbc', key, Buffer.alloc(16));
      return Buffer.concat([c.update(b), c.final()]).toString('base64');
    },
    decrypt: (t) => {
      const d = createDecipheriv('aes-256-cbc', key, Buffer.alloc(16));
      return new Uint8Array(Buffer.concat([d.update(Buffer.from(t, 'base64')), d.final()]));
    },
  };
  const secret = 'not-a-real-secret ünï';
  const xml = serialize(PSObject.custom({ p: ps.secureString(secret) }), { cipher });
  assert.ok(!xml.includes('not-a-real'));
  const back = deserialize(xml, { cipher }) as PSObject;
  const ss = (back.get('p') as PSPrimitive<'SS'>).value;
  assert.equal(ss.reveal(), secret);
  assert.equal(String(ss), '[SecureString]');
  assert.equal(JSON.stringify({ ss }), '{"ss":"[SecureString]"}');
  assert.ok(!inspect(back, { depth: 10 }).includes('not-a-real'));
  assert.equal(toPlain(back.get('p')!), '[SecureString]');
  // without the key: ciphertext kept and re-sent as is; revealing is refused
  const opaque = (deserialize(xml) as PSObject).get('p') as PSPrimitive<'SS'>;
  assert.throws(() => opaque.value.reveal(), InvalidArgumentError);
  assert.equal(serialize(opaque), `<SS>${opaque.value.ciphertext}</SS>`);
  assert.throws(() => serialize(ps.secureString('x')), LocalProtocolError);
  const wrong: SecureStringCipher = {
    ...cipher,
    decrypt: () => {
      throw new Error('bad decrypt');
    },
  };
  assert.throws(
    () => deserialize(xml, { cipher: wrong }),
    (e: Error) => e instanceof ClixmlError && !e.message.includes('not-a-real'),
  );
  assert.equal(PSSecureString.fromPlaintext('x').hasPlaintext, true);
});

test('documents: <Objs>, #< CLIXML prefix, stream attributes, RefIds across the document', () => {
  const doc =
    '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">oops_x000D__x000A_</S><Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN><MS><I64 N="SourceId">1</I64></MS></Obj><Ref RefId="0" /></Objs>';
  const items = deserializeDocumentItems(doc);
  assert.equal(items.length, 3);
  assert.deepEqual(items[0], { value: 'oops\r\n', stream: 'Error' });
  assert.equal(items[1]!.stream, 'progress');
  assert.equal(items[2]!.value, items[1]!.value);
  assert.throws(() => deserializeDocument('<Obj RefId="0"/>'), ClixmlError);
  const shared = PSObject.custom({ a: 1 });
  const out = serializeDocument([shared, shared]);
  assert.equal(
    out,
    '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN><MS><I32 N="a">1</I32></MS></Obj><Ref RefId="0" /></Objs>',
  );
  const vs = deserializeDocument(out);
  assert.equal(vs[0], vs[1]);
  // pretty-printed input (as PSSerializer writes it): whitespace between elements is ignored, inside <S> kept
  assert.deepEqual(
    deserializeDocument('<Objs>\n  <S>  a  </S>\n  <Obj RefId="0">\n    <LST>\n      <I32>1</I32>\n    </LST>\n  </Obj>\n</Objs>').map(
      (v) => toPlain(v),
    ),
    ['  a  ', [1]],
  );
});

test('toPlain mapping for ps --json', () => {
  assert.equal(toPlain(ps.int64(2n ** 53n)), '9007199254740992');
  assert.equal(toPlain(ps.int64(-5n)), -5);
  assert.equal(toPlain(ps.uint64(2n ** 64n - 1n)), '18446744073709551615');
  assert.equal(toPlain(ps.single(0.1)), 0.1);
  assert.equal(toPlain(ps.double(NaN)), 'NaN');
  assert.equal(toPlain(ps.decimal('1.5')), 1.5);
  assert.equal(toPlain(ps.decimal('1.50')), '1.50');
  assert.equal(toPlain(ps.char(0x41)), 'A');
  assert.equal(toPlain(ps.bytes(new Uint8Array([255]))), '/w==');
  assert.equal(toPlain(ps.timespan({ seconds: 90 })), 'PT1M30S');
  assert.equal(toPlain(ps.guid('00000000-0000-0000-0000-000000000001')), '00000000-0000-0000-0000-000000000001');
  assert.equal(
    toPlain(new PSObject({ value: ps.datetime(new Date(0)), extended: { DisplayHint: PSObject.enum('X', 'DateTime', 2) } })),
    '1970-01-01T00:00:00Z',
  );
  assert.equal(toPlain(new PSObject({ toStringValue: 'only text' })), 'only text');
  assert.deepEqual(
    toPlain(
      PSObject.dict([
        [1, 'a'],
        [PSObject.custom({}, ['K']), 'b'],
      ]),
    ),
    { 1: 'a', K: 'b' },
  );
  // a DAG of shared refs that would expand exponentially is refused, not silently truncated
  let x: PSObject = PSObject.list([1]);
  for (let i = 0; i < 40; i++) x = PSObject.list([x, x]);
  assert.throws(() => toPlain(x, { maxNodes: 100_000 }), ClixmlError);
});

/** A small seeded PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('property: random values round-trip exactly (seeded)', () => {
  for (let seed = 1; seed <= 150; seed++) {
    const r = rng(seed);
    const int = (n: number) => Math.floor(r() * n);
    const str = (): string => {
      let s = '';
      const n = int(12);
      for (let i = 0; i < n; i++) s += String.fromCharCode(r() < 0.7 ? 32 + int(95) : int(0x10000));
      return r() < 0.1 ? s + '_x0041_' : s;
    };
    const prims: Array<() => PSValue> = [
      () => null,
      () => str(),
      () => r() < 0.5,
      () => int(2 ** 31) - 2 ** 30,
      () => r() * 1e6 - 5e5,
      () => ps.byte(int(256)),
      () => ps.sbyte(int(256) - 128),
      () => ps.int16(int(65536) - 32768),
      () => ps.uint16(int(65536)),
      () => ps.uint32(int(2 ** 32)),
      () => ps.int64(BigInt(int(2 ** 31)) * BigInt(int(2 ** 31)) - 2n ** 60n),
      () => ps.uint64(BigInt(int(2 ** 31)) ** 2n),
      () => ps.single(r() * 100),
      () => ps.double(r() < 0.1 ? -0 : r() / 3),
      () => ps.decimal(`${int(1e6)}.${int(100)}`),
      () => ps.char(int(0x10000)),
      () =>
        ps.datetime({
          ticks: (BigInt(int(2 ** 31)) * BigInt(int(2 ** 31))) % 3155378975999999999n,
          kind: (['Utc', 'Local', 'Unspecified'] as const)[int(3)]!,
          offsetMinutes: 0,
        }),
      () => ps.timespan(BigInt(int(2 ** 31)) * BigInt(int(2 ** 20)) - 2n ** 50n),
      () => ps.guid('12345678-1234-1234-1234-1234567890ab'),
      () => ps.bytes(new Uint8Array(int(20)).map(() => int(256))),
      () => ps.uri('http://h/' + int(99)),
      () => ps.version(`${int(9)}.${int(9)}`),
      () => ps.scriptBlock(str()),
      () => ps.xmlDocument('<a>' + int(9) + '</a>'),
    ];
    const pool: PSObject[] = [];
    const gen = (d: number): PSValue => {
      const k = r();
      if (d > 4 || k < 0.5) return prims[int(prims.length)]!();
      if (k < 0.55 && pool.length) return pool[int(pool.length)]!; // shared reference
      let o: PSObject;
      if (k < 0.65) o = PSObject.list(Array.from({ length: int(4) }, () => gen(d + 1)));
      else if (k < 0.75) o = PSObject.dict(Array.from({ length: int(4) }, (_, i) => [`k${i}`, gen(d + 1)] as [PSValue, PSValue]));
      else if (k < 0.8) o = PSObject.enum('E', 'Name' + int(5), int(5));
      else
        o = new PSObject({
          typeNames: r() < 0.5 ? ['T' + int(3), 'System.Object'] : [],
          toStringValue: r() < 0.5 ? str() : undefined,
          adapted: Array.from({ length: int(3) }, (_, i) => [`a${i}`, gen(d + 1)] as [string, PSValue]),
          extended: Array.from({ length: int(3) }, (_, i) => [str() + i, gen(d + 1)] as [string, PSValue]),
        });
      pool.push(o);
      return o;
    };
    const v = gen(0);
    const xml = serialize(v);
    const back = deserialize(xml);
    assert.equal(serialize(back), xml, `seed ${seed}`);
    assert.equal(canonicalDump(back), canonicalDump(deserialize(serialize(back))), `seed ${seed}`);
  }
});

test('an already-parsed element (e.g. from a SOAP body) deserializes like its text', () => {
  const xml =
    '<Objs xmlns="http://schemas.microsoft.com/powershell/2004/04">\n <Obj RefId="0">\n  <TN RefId="0"><T>A</T></TN>\n  <MS><S N="s"> x </S><Ref N="me" RefId="0" /></MS>\n </Obj>\n</Objs>';
  const el = parseXml(xml).children[0]!;
  const v = deserialize(el) as PSObject;
  assert.equal(v.get('s'), ' x ');
  assert.equal(v.get('me'), v);
  assert.deepEqual(v.typeNames, ['A']);
  assert.equal(canonicalDump(v), canonicalDump(deserializeDocument(xml)[0]!));
});

test('the direct path reads what PowerShell writes exactly as the full parser does, and leaves the rest to it', () => {
  const pwsh = (body: string) =>
    `<Obj RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN>${body}</Obj>`;
  const taken = [
    pwsh('<MS><I32 N="i">1</I32><S N="s">x1</S></MS>'),
    pwsh('<ToString>@{i=1}</ToString><MS><S N="a_x0020_b">&lt;&amp;&gt;&quot;&apos;</S><S N="e" /><Nil N="n" /></MS>'),
    `<Obj RefId='0'>\n <TN RefId='0'>\n  <T>A</T>\n </TN>\n <MS>\n  <Ref N='me' RefId='0' />\n` +
      `  <Obj N='o' RefId='1'><TNRef RefId='0' /></Obj>\n </MS>\n</Obj>\n`,
    '<Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T></TN><DCT><En><S N="Key">k</S><I32 N="Value">1</I32></En>' +
      '<En><Nil N="Key" /><Obj N="Value" RefId="1"><LST><S>a</S><Ref RefId="0" /></LST></Obj></En></DCT></Obj>',
    '<Obj RefId="0"><ToString>Running</ToString><I32>4</I32><Props><B N="b">true</B><Db N="d">1.5</Db>' +
      '<DT N="t">2024-01-02T03:04:05.1234567Z</DT><G N="g">0F0E0D0C-0B0A-0908-0706-050403020100</G><BA N="ba">AAEC</BA>' +
      '<I64 N="l">-9</I64><Version N="v">7.6.9</Version></Props></Obj>',
    '<Obj RefId="0"><IE><S>1</S></IE></Obj>',
    '  <S>x_x000A_y</S>  ',
    '<Nil />',
  ];
  for (const x of taken) {
    assert.ok(directPathTakes(x), x);
    assert.ok(isDeepStrictEqual(deserialize(x), deserialize(x, { fullParser: true })), x);
  }
  const left = [
    '<Obj RefId="0" xmlns="http://schemas.microsoft.com/powershell/2004/04"><I32>1</I32></Obj>', // an attribute other than N, RefId
    '<Obj RefId="0"><MS><S N="s">a&#x41;</S></MS></Obj>', // a character reference
    '<Obj RefId="0"><!-- c --><I32>1</I32></Obj>',
    '<Obj RefId="0"><MS><SS N="p">AAAA</SS></MS></Obj>', // SecureString
    '<Obj RefId="0"><PR N="pr"><AV>a</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Processing</T><SR>-1</SR><SD>s</SD></PR></Obj>',
    '<Obj RefId="0"><MS><I32 N="i">x</I32></MS></Obj>', // an error
    '<Obj RefId="0"><MS><I32>1</I32></MS></Obj>', // an error: property without a name
    '<Obj RefId="0"><I32>1</I32><I32>2</I32></Obj>', // an error: two base values
    '<Obj RefId="0"><Ref RefId="1" /></Obj>', // an error: unknown RefId
    '<Obj RefId="0"></Obj >',
    '<Obj RefId="0"> \u00a0 </Obj>',
  ];
  const outcome = (f: () => ClixmlValue) => {
    try {
      return { value: f() };
    } catch (e) {
      return { error: (e as Error).message };
    }
  };
  for (const x of left) {
    assert.ok(!directPathTakes(x), x);
    assert.deepEqual(
      outcome(() => deserialize(x)),
      outcome(() => deserialize(x, { fullParser: true })),
      x,
    );
  }
  // the nesting limit holds on the direct path too
  const deep = [0, 1, 2].map((i) => `<Obj RefId="${i}"><LST>`).join('') + '<I32>1</I32>' + '</LST></Obj>'.repeat(3);
  assert.ok(directPathTakes(deep));
  assert.throws(() => deserialize(deep, { maxDepth: 6 }), ClixmlError);
  assert.doesNotThrow(() => deserialize(deep, { maxDepth: 7 }));
});
