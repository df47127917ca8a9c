/** The endpoint's config resource (shape as Windows, values from the options) and unauthenticated Identify. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { connect } from '../../src/index.js';
import { parseEnvelope } from '../../src/wsman/envelope.js';
import { NS } from '../../src/wsman/ns.js';
import type { XmlElement } from '../../src/xml/dom.js';
import { recordingsDir, recordingsSkip } from '../helpers/peers.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';

let ep: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  ep = await startEndpoint({ maxEnvelopeSize: 512000 });
});
after(async () => {
  await ep.close();
});

function paths(el: XmlElement, p = '', out = new Set<string>()): Set<string> {
  const here = `${p}/${el.local}`;
  out.add(here);
  for (const c of el.children) paths(c, here, out);
  return out;
}

test('config Get: MaxEnvelopeSizekb, MaxTimeoutms, AllowUnencrypted', async () => {
  const c = connect({ host: `127.0.0.1:${ep.port}`, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true });
  try {
    assert.deepEqual(await c.getConfig(), { maxEnvelopeSizeKb: 500, maxTimeoutMs: 3600000, allowUnencrypted: true });
  } finally {
    c.close();
  }
});

const recordings = recordingsDir();
test("config Get: every element of our reply is in Windows' recorded reply", { skip: recordingsSkip(recordings) }, async () => {
  const c = connect({ host: `127.0.0.1:${ep.port}`, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true });
  try {
    const rec = (
      parseYaml(readFileSync(join(recordings!, 'test_wsman_update_envelope_size_500.yml'), 'utf8')) as {
        messages: Array<{ response: string }>;
      }
    ).messages[0]!.response;
    const win = paths(parseEnvelope(rec).payload!);
    const ours = paths((await c.wsman.get('http://schemas.microsoft.com/wbem/wsman/1/config')).payload!);
    assert.ok(ours.size > 3, 'our config reply has elements');
    assert.deepEqual(
      [...ours].filter((x) => !win.has(x)),
      [],
    );
  } finally {
    c.close();
  }
});

test('Identify answers without authentication; other unauthenticated bodies get 401', async () => {
  const post = (body: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const r = http.request(
        {
          host: '127.0.0.1',
          port: ep.port,
          path: '/wsman',
          method: 'POST',
          agent: false,
          headers: { WSMANIDENTIFY: 'unauthenticated', 'Content-Type': 'application/soap+xml;charset=UTF-8' },
        },
        (res) => {
          let b = '';
          res
            .setEncoding('utf8')
            .on('data', (d) => {
              b += d;
            })
            .on('end', () => resolve({ status: res.statusCode!, body: b }));
        },
      );
      r.on('error', reject);
      r.end(body);
    });
  const ok = await post(
    `<s:Envelope xmlns:s="${NS.s}" xmlns:wsmid="${NS.wsmid}"><s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>`,
  );
  assert.equal(ok.status, 200);
  assert.equal(parseEnvelope(ok.body).payload?.local, 'IdentifyResponse');
  assert.equal((await post(`<s:Envelope xmlns:s="${NS.s}"><s:Header/><s:Body><x/></s:Body></s:Envelope>`)).status, 401);
  assert.equal((await post('<!DOCTYPE x []><x/>')).status, 401);
});
