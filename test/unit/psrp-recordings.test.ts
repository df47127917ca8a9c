/**
 * Every PSRP fragment and message in the pypsrp recordings (real Windows hosts; ../shared/recordings/pypsrp, never
 * copied here) decodes, and every server -> client message goes through ClientRunspacePool's handlers without error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { recordingsDir, recordingsSkip } from '../helpers/peers.js';
import { decodeFragments, Defragmenter } from '../../src/psrp/fragment.js';
import { decodeMessage, Destination, MessageType, messageTypeName, type PSRPMessage } from '../../src/psrp/message.js';
import { ClientRunspacePool } from '../../src/psrp/pool.js';
import { RunspacePoolState } from '../../src/psrp/state.js';
import { fromBase64, fromUtf8 } from '../../src/util/bytes.js';
import { deserialize } from '../../src/clixml/index.js';

const dir = recordingsDir();
const skip = recordingsSkip(dir);
const PSRP_URI = 'http://schemas.microsoft.com/powershell/';
const B64 = /<(?:[\w]+:)?(creationXml|connectXml|connectResponseXml|Stream|Arguments)\b[^>]*>([A-Za-z0-9+/=\s]+)<\//g;

interface Decoded {
  file: string;
  dir: 'request' | 'response';
  msg: PSRPMessage;
}

function decodeFile(file: string): { decoded: Decoded[]; fragments: number } {
  const doc = parseYaml(readFileSync(join(dir!, file), 'utf8')) as { messages: Array<{ request?: string; response?: string }> };
  const out: Decoded[] = [];
  let fragments = 0;
  const defrag = { request: new Map<string, Defragmenter>(), response: new Map<string, Defragmenter>() };
  for (const m of doc.messages) {
    // only exchanges on the PowerShell resource carry PSRP
    if (typeof m.request !== 'string' || !m.request.includes(PSRP_URI)) continue;
    for (const d of ['request', 'response'] as const) {
      const xml = m[d];
      if (typeof xml !== 'string') continue;
      for (const mm of xml.matchAll(B64)) {
        // client object ids are unique per pool; server ones per command
        const cmd = d === 'request' ? '' : (/CommandId="([^"]+)"/.exec(mm[0])?.[1] ?? '');
        let df = defrag[d].get(cmd);
        if (!df) {
          df = new Defragmenter();
          defrag[d].set(cmd, df);
        }
        for (const f of decodeFragments(fromBase64(mm[2]!))) {
          fragments++;
          const whole = df.add(f);
          if (whole) out.push({ file, dir: d, msg: decodeMessage(whole) });
        }
      }
    }
  }
  return { decoded: out, fragments };
}

test('every fragment and message in the PSRP recordings decodes; server messages drive the pool', { skip }, () => {
  const files = readdirSync(dir!)
    .filter((f) => /^test_psrp_.*\.yml$/.test(f))
    .sort();
  assert.ok(files.length >= 20);
  let total = 0;
  let frags = 0;
  const seen = new Set<string>();
  for (const file of files) {
    const { decoded, fragments } = decodeFile(file);
    frags += fragments;
    const pool = new ClientRunspacePool();
    pool.open();
    pool.dataToSend();
    for (const { dir: d, msg } of decoded) {
      total++;
      seen.add(`${d}:${messageTypeName(msg.messageType)}`);
      assert.equal(
        msg.destination,
        d === 'request' ? Destination.Server : Destination.Client,
        `${file} ${messageTypeName(msg.messageType)}`,
      );
      if (msg.data.length) deserialize(fromUtf8(msg.data));
      if (d === 'request') {
        // client messages: register the pipelines the recording creates, so their server messages route
        if (msg.messageType === MessageType.CREATE_PIPELINE && pool.state === RunspacePoolState.Opened && !pool.pipelines.has(msg.pid)) {
          pool.createPipeline({ statements: [[{ cmd: 'x' }]] }, { pipelineId: msg.pid }).start();
          pool.dataToSend(1 << 20, { pipelineId: msg.pid });
        }
        continue;
      }
      if (msg.messageType === MessageType.ENCRYPTED_SESSION_KEY) {
        // encrypted to the recorded client's RSA key, which we do not have: check the SIMPLEBLOB header only
        const b64 = /<S N="EncryptedSessionKey">([^<]+)</.exec(fromUtf8(msg.data))![1]!;
        assert.match(b64, /^AQIAABBmAAAApAAA/);
        continue;
      }
      try {
        pool.processMessage(msg);
      } catch (e) {
        // a recording of a reconnect replays states our fresh pool did not pass through; anything else is a failure
        if (!(msg.messageType === MessageType.RUNSPACEPOOL_STATE || msg.messageType === MessageType.PIPELINE_STATE))
          throw new Error(`${file}: ${messageTypeName(msg.messageType)}: ${(e as Error).message}`);
      }
      while (pool.nextEvent());
    }
  }
  assert.ok(total > 300, `${total} messages`);
  assert.ok(frags >= total);
  for (const t of [
    'response:PIPELINE_OUTPUT',
    'response:PIPELINE_HOST_CALL',
    'response:RUNSPACEPOOL_STATE',
    'response:PIPELINE_STATE',
    'response:ERROR_RECORD',
    'request:PUBLIC_KEY',
    'request:PIPELINE_HOST_RESPONSE',
    'request:PIPELINE_INPUT',
    'request:CONNECT_RUNSPACEPOOL',
    'response:RUNSPACEPOOL_INIT_DATA',
  ]) {
    assert.ok(seen.has(t), `recordings exercise ${t}`);
  }
});
