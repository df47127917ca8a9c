/**
 * MaxEnvelopeSize: the client asks for 512000 bytes (Windows Server 2012+'s default); an endpoint with a smaller limit
 * refuses a larger request with w:EncodingLimit, and the client sends it once more, re-split to the endpoint's size.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, WSManFaultError, type ConnectOptions } from '../../src/index.js';
import { DEFAULT_ENVELOPE_SIZE, isEnvelopeTooLargeFault } from '../../src/wsman/client.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';

const SMALL = 16384;
let small: Awaited<ReturnType<typeof startEndpoint>>;
let big: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  small = await startEndpoint({ maxEnvelopeSize: SMALL });
  big = await startEndpoint();
});
after(async () => {
  await small.close();
  await big.close();
});

const opts = (port: number, o: Partial<ConnectOptions> = {}): ConnectOptions => ({
  host: `127.0.0.1:${port}`,
  username: USER,
  password: PASSWORD,
  auth: 'basic',
  allowUnencrypted: true,
  ...o,
});
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('the client asks for 512000 bytes by default; a 300 KB stdin goes in one Send to a default endpoint', async () => {
  const c = connect(opts(big.port));
  try {
    assert.equal(c.wsman.maxEnvelopeSize, DEFAULT_ENVELOPE_SIZE);
    assert.equal(DEFAULT_ENVELOPE_SIZE, 512000);
    const input = randomBytes(300_000);
    const r = await c.exec('sha256sum', [], { input });
    assert.equal(r.exitCode, 0, r.stderr.toString());
    assert.equal(r.stdout.toString().split(' ')[0], sha(input));
    assert.equal(c.wsman.serverEnvelopeLimit, undefined, 'no request was refused');
    // Create, Command, one Send, Receive(s), Delete: far fewer requests than at the old 150 KiB default
    assert.ok(c.stats.requests <= 8, `requests: ${c.stats.requests}`);
  } finally {
    c.close();
  }
});

test('an endpoint with a smaller MaxEnvelopeSize: the refused Send is re-split to its size once, then every request fits', async () => {
  const c = connect(opts(small.port));
  try {
    const input = randomBytes(200_000);
    const r = await c.exec('sha256sum', [], { input });
    assert.equal(r.exitCode, 0, r.stderr.toString());
    assert.equal(r.stdout.toString().split(' ')[0], sha(input), 'every byte of stdin arrived once, in order');
    assert.equal(c.wsman.serverEnvelopeLimit, SMALL, 'the limit was read from the fault');
    assert.equal(c.wsman.maxEnvelopeSize, SMALL);
    const refused = small.lines.filter((l) => / 500 /.test(l) || /oversized|EncodingLimit/i.test(l));
    assert.equal(refused.length, 1, `exactly one request was refused:\n${small.lines.join('\n')}`);
    // a second command on the same client: no more refusals
    const again = randomBytes(50_000);
    const r2 = await c.exec('sha256sum', [], { input: again });
    assert.equal(r2.stdout.toString().split(' ')[0], sha(again));
    assert.equal(small.lines.filter((l) => / 500 /.test(l) || /oversized|EncodingLimit/i.test(l)).length, 1);
  } finally {
    c.close();
  }
});

test('a fault that is not about the envelope size is not retried; the size fault is recognised by its subcode', () => {
  const tooLarge = new WSManFaultError(
    'x',
    2150858805,
    'h',
    'The WS-Management service cannot process the request because the envelope size (20000 bytes) exceeds the maximum envelope ' +
      'size (16384 bytes). ',
    's:Sender',
    'w:EncodingLimit',
  );
  const belowMinimum = new WSManFaultError('x', 2150858823, 'h', 'below the minimum', 's:Sender', 'w:EncodingLimit');
  const other = new WSManFaultError('x', 2150858843, 'h', 'invalid selectors', 's:Sender', 'w:InvalidSelectors');
  assert.equal(isEnvelopeTooLargeFault(tooLarge), true);
  assert.equal(isEnvelopeTooLargeFault(belowMinimum), false);
  assert.equal(isEnvelopeTooLargeFault(other), false);
});
