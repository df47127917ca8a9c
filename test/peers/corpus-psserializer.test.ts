/**
 * CLIXML corpus against the real PowerShell 7.6.9 (test/helpers/corpus.ts explains the normalisation).
 * 1. pwsh: [PSSerializer]::Serialize(EXPR) -> CLIXML; pwsh's own Deserialize -> canonical dump (expected).
 *    We: deserialize the same CLIXML -> canonical dump (actual). Must be equal for every case.
 * 2. Reverse: we serialize what we deserialized (our serializer, our RefId/TNRef numbering) into a new
 *    document; pwsh deserializes OUR CLIXML; its dump must equal the expected dump of step 1.
 * 3. Wire: that document is byte for byte what pwsh wrote, once pwsh's pretty-printing (a newline and
 *    indentation between tags; strings never hold a raw newline, it is escaped) is removed.
 * Two pwsh runs in total.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deserializeDocument, serializeDocument, unprotectedSecureStringCipher, type ClixmlValue } from '../../src/clixml/index.js';
import { CORPUS, canonicalDump, diffAt, pwshDumpDocuments, pwshReference, type Reference } from '../helpers/corpus.js';
import { findPwsh, peerSkip } from '../helpers/peers.js';

const pwsh = findPwsh();
const skip = peerSkip('pwsh (PowerShell 7.6.9)', !!pwsh);
const cipher = unprotectedSecureStringCipher; // what PSSerializer writes on Linux (no DPAPI)

test('the corpus covers >= 60 expressions, 1 MB strings, 100 000 items, deep nesting, shared refs, non-ASCII', () => {
  assert.ok(CORPUS.length >= 60, `${CORPUS.length} cases`);
  for (const n of ['str-1mb', 'array-100k', 'deep-nesting', 'shared-refs', 'cycle', 'str-japanese', 'str-emoji'])
    assert.ok(
      CORPUS.some((c) => c.name === n),
      n,
    );
  assert.equal(new Set(CORPUS.map((c) => c.name)).size, CORPUS.length, 'unique names');
});

test('corpus: our deserializer == PowerShell deserializer, and PowerShell reads our serializer', { skip }, async (t) => {
  const ref: Map<string, Reference> = await pwshReference(pwsh!);
  const ours = new Map<string, ClixmlValue>();
  const failures: string[] = [];
  for (const c of CORPUS) {
    const r = ref.get(c.name)!;
    if (r.error !== undefined) {
      failures.push(`${c.name}: pwsh could not serialize: ${r.error}`);
      continue;
    }
    try {
      const values = deserializeDocument(r.clixml!, { cipher });
      assert.equal(values.length, 1);
      ours.set(c.name, values[0]!);
      const actual = canonicalDump(values[0]!);
      if (actual !== r.dump) failures.push(`${c.name} (deserialize): ${diffAt(r.dump, actual)}`);
    } catch (e) {
      failures.push(`${c.name} (deserialize): ${(e as Error).message}`);
    }
  }
  await t.test('deserialize: every case equal', () => assert.deepEqual(failures, []));

  const docs: Array<[string, string]> = [...ours].map(([name, v]) => [name, serializeDocument([v], { cipher })]);
  const back = await pwshDumpDocuments(pwsh!, docs);
  const rev: string[] = [];
  for (const [name] of docs) {
    const b = back.get(name)!;
    const expected = ref.get(name)!.dump;
    if (b.error !== undefined) rev.push(`${name}: pwsh rejected our CLIXML: ${b.error}`);
    else if (b.dump !== expected) rev.push(`${name} (reverse): ${diffAt(expected, b.dump)}`);
  }
  await t.test('reverse: pwsh deserializes our CLIXML to the same value', () => assert.deepEqual(rev, []));

  const wire: string[] = [];
  for (const [name, ours] of docs) {
    const theirs = ref
      .get(name)!
      .clixml!.replace(/>\r?\n\s*</g, '><')
      .trim();
    if (ours !== theirs) {
      let i = 0;
      while (ours[i] === theirs[i]) i++;
      wire.push(`${name} at ${i}: pwsh …${theirs.slice(Math.max(0, i - 60), i + 80)}… ours …${ours.slice(Math.max(0, i - 60), i + 80)}…`);
    }
  }
  await t.test('wire: our serializer writes the same bytes as PowerShell for every case', () => assert.deepEqual(wire, []));
});
