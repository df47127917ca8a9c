/**
 * CLIXML bad input: random text, truncation at every position, byte mutations, deep nesting, Ref loops and
 * reference bombs. Every outcome is a value or a ClixmlError — never another exception, a hang or unbounded memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize, deserializeDocument, ps, PSObject, serialize, serializeDocument, toPlain } from '../../src/clixml/index.js';
import { ClixmlError } from '../../src/errors.js';
import { isDeepStrictEqual } from 'node:util';
import { fastPathTakes } from '../../src/clixml/deserialize.js';
import { fuzzRandom } from '../helpers/fuzz.js';

const fz = fuzzRandom('clixml.test.ts');

function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function expectTyped(f: () => unknown, what: string): 'ok' | 'error' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof ClixmlError) {
      assert.ok(e.message.length > 10 && e.message.length < 2000, what);
      return 'error';
    }
    throw new Error(`${what}: untyped ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  }
}

const sample = serializeDocument([
  PSObject.custom({
    s: 'x_x000A_y\n',
    n: 1,
    big: ps.int64(-5n),
    d: ps.datetime(new Date(0)),
    t: ps.timespan({ seconds: 3 }),
    g: ps.guid('12345678-1234-1234-1234-1234567890ab'),
  }),
  PSObject.dict([['k', [1, 2, ps.bytes(new Uint8Array([1, 2]))]]]),
  PSObject.enum('E', 'A', 1),
  ps.decimal('1.5'),
  ps.char(65),
  ps.single(1.5),
  ps.version('1.2'),
]);
const body =
  '<Obj RefId="0"><TN RefId="0"><T>A</T></TN><MS><I32 N="a">1</I32><Obj N="b" RefId="1"><TNRef RefId="0" /><LST><Ref RefId="0" ' +
  '/><S>z</S></LST></Obj></MS></Obj>';

test('truncation at every position -> ClixmlError (or a value when still well-formed)', () => {
  for (let i = 0; i < sample.length; i++) expectTyped(() => deserializeDocument(sample.slice(0, i)), `doc cut at ${i}`);
  for (let i = 0; i < body.length; i++)
    assert.equal(
      expectTyped(() => deserialize(body.slice(0, i)), `body cut at ${i}`),
      'error',
      `cut ${i}`,
    );
});

test('random mutations of valid CLIXML never escape as untyped errors', () => {
  const r = rng(fz.int31());
  const alphabet = '<>/="&;_xX0123456789ABCDEF-.:TZPHMS \nabcNilObjRefTNLSTDCTEn';
  for (let n = 0; n < 3000; n++) {
    let s = r() < 0.5 ? sample : body;
    const edits = 1 + Math.floor(r() * 4);
    for (let e = 0; e < edits; e++) {
      const p = Math.floor(r() * s.length);
      const c = alphabet[Math.floor(r() * alphabet.length)]!;
      const k = r();
      s = k < 0.4 ? s.slice(0, p) + c + s.slice(p + 1) : k < 0.7 ? s.slice(0, p) + c + s.slice(p) : s.slice(0, p) + s.slice(p + 1);
    }
    expectTyped(() => {
      const v = s.startsWith('<Objs') ? deserializeDocument(s) : deserialize(s);
      toPlain(v as never);
    }, `mutation ${n}`);
  }
});

/** The outcome of one parse: the value, or the error's class and message. */
function outcome(f: () => unknown): { value?: unknown; error?: string } {
  try {
    return { value: f() };
  } catch (e) {
    return { error: `${(e as Error).constructor.name}: ${(e as Error).message}` };
  }
}

test('the fast path and saxes give the same value or the same error (differential, mutations of valid CLIXML)', () => {
  assert.ok(fastPathTakes(body), 'the usual CLIXML takes the fast path');
  assert.ok(fastPathTakes(sample.replace(/^\uFEFF/, ''), 'doc') || sample.startsWith('<?'), 'a document takes the fast path');
  const r = rng(fz.int31());
  // XML constructs the fast path hands to saxes, and ones it must get exactly right
  const inserts = [
    '&lt;',
    '&amp;',
    '&#65;',
    '&#x41;',
    '&bogus;',
    '&',
    '\r',
    '\r\n',
    '\t',
    ']]>',
    '<!-- c -->',
    '<![CDATA[<x>]]>',
    '<?pi x?>',
    ' xmlns="http://schemas.microsoft.com/powershell/2004/04"',
    ' xmlns:p="urn:x"',
    'p:',
    "'",
    '"',
    '\uFEFF',
    '\uD800',
    '\u0001',
    ' ',
    '/>',
    '</S>',
    '<S>',
    '>',
  ];
  const alphabet = '<>/="&;_xX0123456789-.:TZ \nabcNilObjRefTNLSTS';
  let fast = 0;
  for (let n = 0; n < 3000; n++) {
    let s = r() < 0.5 ? sample : body;
    const edits = 1 + Math.floor(r() * 3);
    for (let e = 0; e < edits; e++) {
      const p = Math.floor(r() * s.length);
      const c = r() < 0.5 ? inserts[Math.floor(r() * inserts.length)]! : alphabet[Math.floor(r() * alphabet.length)]!;
      const k = r();
      s = k < 0.4 ? s.slice(0, p) + c + s.slice(p + 1) : k < 0.8 ? s.slice(0, p) + c + s.slice(p) : s.slice(0, p) + s.slice(p + 1);
    }
    const doc = s.includes('<Objs');
    const parse = (full: boolean) => () => (doc ? deserializeDocument(s, { fullParser: full }) : deserialize(s, { fullParser: full }));
    const a = outcome(parse(false));
    const b = outcome(parse(true));
    assert.equal(a.error, b.error, `mutation ${n}: ${JSON.stringify(s)}`);
    assert.ok(isDeepStrictEqual(a.value, b.value), `mutation ${n}: different values for ${JSON.stringify(s)}`);
    if (fastPathTakes(s, doc ? 'doc' : 'one')) fast++;
  }
  assert.ok(fast > 100, `the fast path took ${fast} of the mutated inputs`);
});

test('random text and random element soup', () => {
  const r = rng(fz.int31());
  const tags = [
    'Obj',
    'Ref',
    'TN',
    'TNRef',
    'T',
    'LST',
    'DCT',
    'En',
    'MS',
    'Props',
    'S',
    'I32',
    'I64',
    'DT',
    'TS',
    'G',
    'BA',
    'SS',
    'PR',
    'AV',
    'Nil',
    'ToString',
    'Db',
    'C',
    'Version',
    'Foo',
  ];
  for (let n = 0; n < 2000; n++) {
    let s = '';
    const depth: string[] = [];
    for (let k = 0; k < 30; k++) {
      const q = r();
      if (q < 0.4) {
        const t = tags[Math.floor(r() * tags.length)]!;
        const a = r() < 0.5 ? ` RefId="${Math.floor(r() * 3)}"` : r() < 0.5 ? ' N="Key"' : '';
        s += `<${t}${a}>`;
        depth.push(t);
      } else if (q < 0.7 && depth.length) s += `</${depth.pop()}>`;
      else s += ['1', 'x', '-', '2020-01-01T00:00:00Z', 'PT1S', '_x0041_', '&amp;', 'AAAA', ' '][Math.floor(r() * 9)];
    }
    while (depth.length) s += `</${depth.pop()}>`;
    expectTyped(() => toPlain(deserialize(s) as never), `soup ${n}: ${s.slice(0, 200)}`);
  }
  for (let n = 0; n < 500; n++) {
    const len = Math.floor(r() * 200);
    let s = '';
    for (let i = 0; i < len; i++) s += String.fromCharCode(Math.floor(r() * 0x10000));
    expectTyped(() => deserialize(s), 'random text');
  }
});

test('specific bad inputs name the element path', () => {
  const cases: Array<[string, RegExp]> = [
    ['<Ref RefId="9" />', /unknown RefId 9/],
    ['<Obj RefId="0"><TNRef RefId="3" /></Obj>', /TNRef to unknown RefId 3/],
    ['<Obj RefId="0"><MS><Obj N="a" RefId="0" /></MS></Obj>', /Obj\/MS\/Obj\[N=a\].*duplicate RefId 0/],
    ['<Obj RefId="0"><MS><I32 N="x">2147483648</I32></MS></Obj>', /Obj\/MS\/I32\[N=x\].*Int32/],
    ['<Obj RefId="0"><MS><I32>1</I32></MS></Obj>', /without a name/],
    ['<Obj RefId="0"><DCT><En><S N="Key">k</S></En></DCT></Obj>', /without Key or Value/],
    ['<Obj RefId="0"><LST /><DCT /></Obj>', /more than one collection/],
    ['<By>256</By>', /By/],
    ['<SB>-129</SB>', /SB/],
    ['<U64>-1</U64>', /U64/],
    ['<I64>9223372036854775808</I64>', /I64 out of range/],
    ['<C>65536</C>', /Char/],
    ['<Db>1,5</Db>', /number/],
    ['<Db>0x10</Db>', /number/],
    ['<D>1e</D>', /Decimal/],
    ['<G>not-a-guid</G>', /GUID/],
    ['<BA>@@@@</BA>', /base64/],
    ['<BA>AAA</BA>', /base64/],
    ['<Version>1</Version>', /Version/],
    ['<TS>P1H</TS>', /TimeSpan/],
    ['<DT>yesterday</DT>', /DateTime/],
    ['<B>yes</B>', /Boolean/],
    ['<Unknown />', /unknown element <Unknown>/],
    ['<x:S xmlns:x="urn:other">a</x:S>', /unexpected namespace/],
    ['<!DOCTYPE x [<!ENTITY a "b">]><S>&a;</S>', /DOCTYPE/],
    ['<S>a</S><S>b</S>', /malformed|more than one root/],
    ['', /no root|malformed/],
  ];
  for (const [xml, re] of cases)
    assert.throws(
      () => deserialize(xml),
      (e: Error) => e instanceof ClixmlError && re.test(e.message),
      xml,
    );
});

test('deep nesting is bounded, quickly', () => {
  const n = 100_000;
  const deep = '<Obj RefId="0"><LST>'.repeat(1) + '<Obj><LST>'.repeat(n) + '</LST></Obj>'.repeat(n) + '</LST></Obj>';
  assert.throws(
    () => deserialize(deep),
    (e: Error) => e instanceof ClixmlError && /deeper than/.test(e.message),
  );
  // just under the default limit still works (and recursion does not overflow the stack)
  const ok = '<Obj><LST>'.repeat(500) + '</LST></Obj>'.repeat(500);
  assert.ok(deserialize(ok) instanceof PSObject);
  assert.throws(() => deserialize('<Obj><LST>'.repeat(20) + '</LST></Obj>'.repeat(20), { maxDepth: 10 }), ClixmlError);
  assert.throws(() => deserialize('<S>' + 'x'.repeat(1000) + '</S>', { maxLength: 100 }), ClixmlError);
  // serializing a too-deep structure is an error too, not a stack overflow
  let v: PSObject = PSObject.list([]);
  for (let i = 0; i < 2000; i++) v = PSObject.list([v]);
  assert.throws(() => serialize(v), /deeper than 1000/);
});

test('Ref loops and reference bombs: no expansion at deserialize, bounded toPlain', () => {
  const loop = deserialize(
    '<Obj RefId="0"><MS><Ref N="me" RefId="0" /><Obj N="o" RefId="1"><LST><Ref RefId="1" /><Ref RefId="0" /></LST></Obj></MS></Obj>',
  ) as PSObject;
  assert.equal(loop.get('me'), loop);
  assert.deepEqual(toPlain(loop), { me: '[Circular]', o: ['[Circular]', '[Circular]'] });
  // 60 levels, each a list of two Refs to the level below: 2^60 paths, 60 objects
  const xml = '<Obj RefId="0"><LST><S>leaf</S></LST></Obj>';
  let inner = xml;
  for (let i = 1; i <= 60; i++)
    inner = `<Obj RefId="${i}"><LST>${i === 1 ? xml : ''}<Ref RefId="${i - 1}" /><Ref RefId="${i - 1}" /></LST></Obj>`;
  // build properly: the document lists every level, each referring to the previous
  let doc = '<Objs>' + xml;
  for (let i = 1; i <= 60; i++) doc += `<Obj RefId="${i}"><LST><Ref RefId="${i - 1}" /><Ref RefId="${i - 1}" /></LST></Obj>`;
  doc += '</Objs>';
  void inner;
  const vals = deserializeDocument(doc);
  assert.equal(vals.length, 61);
  assert.throws(
    () => toPlain(vals[60]!, { maxNodes: 200_000 }),
    (e: Error) => e instanceof ClixmlError && /node limit/.test(e.message),
  );
  // re-serializing keeps it compact (Refs, not expansion)
  assert.ok(serializeDocument(vals).length < 10_000);
});
