// Bad input to the logon-session broker: the frame decoder returns frames or throws RemoteProtocolError (never
// anything else, never unbounded buffering); a live broker drops garbage connections and keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { BrokerFrameDecoder, encodeBrokerFrame } from '../../src/broker/wire.js';
import { BrokeredContext } from '../../src/broker/client.js';
import { startBroker } from '../../src/server/broker.js';
import { LogonSession } from '../../src/server/logon.js';
import { createInitiator } from '../../src/auth/registry.js';
import { RemoteProtocolError } from '../../src/errors.js';
import { fuzzRandom } from '../helpers/fuzz.js';

const fz = fuzzRandom('broker-fuzz.test.ts');

test('broker fuzz: random and mutated bytes -> frames or RemoteProtocolError', () => {
  const good = encodeBrokerFrame({ op: 'step', cb: { applicationData: 'AAEC' } }, new Uint8Array([1, 2, 3]));
  let seed = fz.int31();
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  for (let i = 0; i < 3000; i++) {
    let input: Uint8Array;
    if (i % 2) input = fz.bytes(rnd() % 64);
    else {
      input = new Uint8Array(good);
      for (let k = 0; k < 1 + (rnd() % 4); k++) input[rnd() % input.length] = rnd() & 0xff;
    }
    const d = new BrokerFrameDecoder();
    try {
      d.push(input);
      for (let n = 0; n < 10 && d.next(); n++) {
        /* drain */
      }
    } catch (e) {
      assert.ok(e instanceof RemoteProtocolError, `unexpected ${(e as Error).name}: ${(e as Error).message}`);
    }
  }
});

test('broker fuzz: garbage connections are dropped and the broker keeps serving', async () => {
  const session = new LogonSession({
    domain: 'EXAMPLE',
    user: 'alice',
    logonType: 'interactive',
    password: 'Passw0rd!',
    mechanism: 'basic',
  });
  const b = await startBroker(session, (m, c, o) => createInitiator(m, c, o));
  try {
    const poke = (bytes: Uint8Array) =>
      new Promise<void>((resolve) => {
        const s = net.connect(b.socketPath, () => s.write(bytes));
        s.on('data', () => undefined);
        s.on('error', () => resolve());
        s.on('close', () => resolve());
      });
    await poke(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await poke(encodeBrokerFrame({ op: 'step' }, new Uint8Array(10))); // a step before open: no capability
    await poke(encodeBrokerFrame({ op: 'open', token: 'x'.repeat(43), mechanism: 'negotiate', targetHost: 'h' }));
    const bad = new Uint8Array(8);
    new DataView(bad.buffer).setUint32(0, 0xffffffff);
    await poke(bad);
    // a big frame before the capability: dropped once the buffered bytes exceed an open frame's size
    const big = new Uint8Array(200_000);
    new DataView(big.buffer).setUint32(0, 100);
    new DataView(big.buffer).setUint32(4, 1_000_000);
    await poke(big);
    for (let i = 0; i < 50 && b.contexts > 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(b.contexts, 0, 'every garbage connection is gone');
    // still serving the real client
    const ctx = new BrokeredContext({ socketPath: b.socketPath, token: b.token }, 'negotiate', { targetHost: 'hostb' });
    const tok = await ctx.step();
    assert.ok(tok && tok.length > 10);
  } finally {
    await b.close();
  }
});
