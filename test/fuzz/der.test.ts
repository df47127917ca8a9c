import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as der from '../../src/asn1/der.js';
import { DerReader } from '../../src/asn1/der.js';
import { RemoteProtocolError } from '../../src/errors.js';
import { fuzzRandom } from '../helpers/fuzz.js';

const fz = fuzzRandom('der.test.ts');

/** Walk every element recursively and read it with every primitive decoder: only RemoteProtocolError may escape. */
function exercise(buf: Uint8Array, depth = 0): void {
  if (depth > 64) return;
  const el = der.decode(buf);
  const tryAll = (b: Uint8Array) => {
    for (const f of [
      'integer',
      'octetString',
      'bitString',
      'oid',
      'enumerated',
      'boolean',
      'generalString',
      'utf8String',
      'time',
    ] as const) {
      try {
        (new DerReader(b) as any)[f]();
      } catch (e) {
        if (!(e instanceof RemoteProtocolError)) throw e;
      }
    }
  };
  tryAll(el.raw);
  if (el.tag.constructed) for (const c of der.children(el)) exercise(c.raw, depth + 1);
}

function ok(buf: Uint8Array): void {
  try {
    exercise(buf);
  } catch (e) {
    if (!(e instanceof RemoteProtocolError)) throw new Error(`non-typed error for ${Buffer.from(buf).toString('hex')}: ${e}`);
  }
}

const seed = der.sequence(
  der.explicit(0, der.integer(6)),
  der.explicit(1, der.sequence(der.sequence(der.explicit(0, der.octetString(fz.bytes(40)))))),
  der.explicit(3, der.octetString(fz.bytes(300))),
  der.explicit(4, der.integer(-0x3ffffff3)),
  der.explicit(6, der.oid('1.3.6.1.4.1.311.2.2.10'), der.bitString(Uint8Array.of(0xa0), 5), der.generalString('x')),
);

test('fuzz der: random bytes never escape as untyped errors', () => {
  for (let i = 0; i < 1000; i++) ok(fz.bytes(1 + (i % 64)));
});

test('fuzz der: mutated valid structures', () => {
  for (let i = 0; i < 300; i++) {
    const b = Uint8Array.from(seed);
    const n = 1 + (i % 4);
    for (let k = 0; k < n; k++) b[Math.floor(fz.next() * b.length)] = Math.floor(fz.next() * 256);
    ok(b);
  }
});

test('fuzz der: every truncation of a valid structure is refused', () => {
  for (let cut = 0; cut < seed.length; cut++) {
    assert.throws(() => der.decode(seed.subarray(0, cut)), RemoteProtocolError);
  }
  exercise(seed);
});

test('fuzz der: huge claimed lengths do not allocate', () => {
  for (const h of ['30847fffffff', '0484ffffffff00', '3083ffffff3083ffffff']) {
    assert.throws(() => der.decode(Buffer.from(h, 'hex')), RemoteProtocolError);
  }
});

test('fuzz der: deep nesting is handled iteratively by callers (no stack blowup in decode)', () => {
  let b: Uint8Array = der.nullValue();
  for (let i = 0; i < 2000; i++) b = der.sequence(b);
  const el = der.decode(b);
  assert.equal(el.end, b.length);
});
