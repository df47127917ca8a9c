/**
 * Every CLIXML payload in the pypsrp PSRP recordings (captured from real Windows hosts; ../shared/recordings,
 * never copied here) deserializes without error, re-serializing it is stable, and our serializer reproduces
 * each payload byte for byte (modulo pypsrp's own `<S />` and attribute order on the client side). Fragments/messages are decoded with the
 * PSRP core's own fragment and message codecs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { isDeepStrictEqual } from 'node:util';
import { deserialize, serialize, PSObject, type ClixmlValue } from '../../src/clixml/index.js';
import { directPathTakes } from '../../src/clixml/deserialize.js';
import { Defragmenter, decodeFragments } from '../../src/psrp/fragment.js';
import { decodeMessage, messageTypeName } from '../../src/psrp/message.js';
import { parseXml, type XmlElement } from '../../src/xml/dom.js';
import { fromBase64, fromUtf8 } from '../../src/util/bytes.js';
import { recordingsDir, recordingsSkip } from '../helpers/peers.js';

const dir = recordingsDir();
const PAYLOAD = new Set(['creationXml', 'connectXml', 'Stream', 'Arguments']);

function payloads(el: XmlElement, out: string[] = []): string[] {
  if (PAYLOAD.has(el.local) && el.text.trim()) out.push(el.text.trim());
  for (const c of el.children) payloads(c, out);
  return out;
}

test('every CLIXML payload in the PSRP recordings deserializes', { skip: recordingsSkip(dir) }, (t) => {
  const files = readdirSync(dir!)
    .filter((f) => /^test_psrp_.*\.yml$/.test(f))
    .sort();
  assert.ok(files.length >= 20, `${files.length} recordings`);
  let messages = 0;
  let objects = 0;
  let identical = 0;
  let direct = 0;
  const notIdentical: string[] = [];
  // pypsrp (the client side of the recordings) writes `<S />`, `<ToString />` and `RefId` before `N`;
  // PowerShell writes `<S></S>`, `<ToString></ToString>` and `N` first. Apart from that our serializer must reproduce every payload byte
  // for byte.
  const norm = (x: string) =>
    x
      .replace(/<ToString \/>/g, '<ToString></ToString>')
      .replace(/<S( N="[^"]*")? \/>/g, '<S$1></S>')
      .replace(/<(Obj|Ref) RefId="(\d+)" N="([^"]*)"/g, '<$1 N="$3" RefId="$2"');
  const types = new Set<string>();
  for (const f of files) {
    const doc = parseYaml(readFileSync(join(dir!, f), 'utf8')) as { messages: Array<{ request?: string; response?: string }> };
    for (const dirn of ['request', 'response'] as const) {
      const defrag = new Defragmenter();
      for (const m of doc.messages) {
        const xml = m[dirn];
        if (typeof xml !== 'string') continue;
        let root: XmlElement;
        try {
          root = parseXml(xml);
        } catch {
          continue;
        } // some recordings carry non-XML error bodies
        for (const b64 of payloads(root)) {
          const bytes = fromBase64(b64);
          if (bytes.length < 21) continue;
          let frags;
          try {
            frags = decodeFragments(bytes);
          } catch {
            continue;
          } // a WinRS argument that is not PSRP
          for (const fr of frags) {
            const whole = defrag.add(fr);
            if (!whole) continue;
            const msg = decodeMessage(whole);
            const text = fromUtf8(msg.data);
            messages++;
            if (!text.trim()) continue;
            const where = `${f} ${dirn} ${messageTypeName(msg.messageType)}`;
            let v: ClixmlValue;
            try {
              v = deserialize(text);
            } catch (e) {
              assert.fail(`${where}: ${(e as Error).message}\n${text.slice(0, 500)}`);
            }
            objects++;
            types.add(messageTypeName(msg.messageType));
            // the direct path (what PowerShell writes for usual values) gives what the full XML parser gives
            if (directPathTakes(text)) direct++;
            assert.ok(isDeepStrictEqual(v, deserialize(text, { fullParser: true })), `${where}: the fast paths differ from saxes`);
            // stable re-serialization
            const once = serialize(v);
            assert.equal(serialize(deserialize(once)), once, `${where}: re-serialization is not stable`);
            if (once === text) identical++;
            else if (norm(text) !== once) {
              const a = norm(text);
              let i = 0;
              while (a[i] === once[i]) i++;
              notIdentical.push(
                `${where} at ${i}: ${a.slice(Math.max(0, i - 80), i + 120)}\n   ours: ${once.slice(Math.max(0, i - 80), i + 120)}`,
              );
            }
            if (v instanceof PSObject)
              assert.ok(v.extended.size || v.adapted.size || v.collection || v.value !== undefined || v.typeNames.length, where);
          }
        }
      }
    }
  }
  t.diagnostic(
    `${files.length} recordings, ${messages} PSRP messages, ${objects} CLIXML payloads, ${types.size} message types; ` +
      `${identical} re-serialized byte for byte, the rest equal after the pypsrp normalisation; ${direct} read by the direct path`,
  );
  assert.deepEqual(notIdentical, []);
  assert.ok(messages > 100, `${messages} PSRP messages decoded`);
  assert.ok(objects > 100, `${objects} CLIXML payloads`);
  assert.ok(direct > objects * 0.8, `the direct path read ${direct} of ${objects} payloads`);
  for (const t of ['SESSION_CAPABILITY', 'INIT_RUNSPACEPOOL', 'CREATE_PIPELINE', 'PIPELINE_OUTPUT', 'PIPELINE_STATE', 'RUNSPACEPOOL_STATE'])
    assert.ok(types.has(t), `saw ${t}`);
});
