/** The client's reply parsers on damaged Windows replies: a typed WinRMError, never a crash or a hang. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { recordingsDir, recordingsSkip } from '../helpers/peers.js';
import { WSManClient } from '../../src/wsman/client.js';
import { WinRMError } from '../../src/errors.js';
import { parseReceiveResponse, parseCreateResponse, parseCommandResponse } from '../../src/winrs/messages.js';
import { fuzzRandom } from '../helpers/fuzz.js';

const fz = fuzzRandom('wsman-fuzz.test.ts');

const dir = recordingsDir();
test('mutated and truncated recorded replies', { skip: recordingsSkip(dir) }, () => {
  const ws = new WSManClient(
    { exchange: async () => '', stats: { requests: 0, authRequests: 0, connections: 0 }, close() {} },
    { to: 'x' },
  );
  const replies: string[] = [];
  for (const f of readdirSync(dir!).filter((x) => /^test_winrs_.*\.yml$/.test(x))) {
    for (const m of (parseYaml(readFileSync(join(dir!, f), 'utf8')) as { messages: Array<{ response: string }> }).messages)
      replies.push(m.response);
  }
  let seed = fz.int31();
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  let typed = 0;
  for (let i = 0; i < 1500; i++) {
    const base = replies[i % replies.length]!;
    let s: string;
    if (i % 3 === 0) s = base.slice(0, Math.floor(rnd() * base.length));
    else {
      const a = [...base];
      for (let k = 0; k < 4; k++) a[Math.floor(rnd() * a.length)] = String.fromCharCode(Math.floor(rnd() * 128));
      s = a.join('');
    }
    try {
      const env = ws.parseReply(s);
      for (const p of [parseReceiveResponse, parseCreateResponse, parseCommandResponse]) {
        try {
          p(env);
        } catch (e) {
          assert.ok(e instanceof WinRMError, String(e));
        }
      }
    } catch (e) {
      assert.ok(e instanceof WinRMError, `${String(e)}`);
      typed++;
    }
  }
  assert.ok(typed > 100);
});
