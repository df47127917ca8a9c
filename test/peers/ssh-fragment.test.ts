/**
 * The size of the OutOfProc `<Data>` packets our client writes over SSH (each waits for the server's DataAck, so
 * their size sets the number of round trips; real pwsh 7.6.9 behind OpenSSH sshd reassembles them): by default a
 * 1 MiB byte[] — one copy/fetch chunk over SSH — goes in one packet; the `fragmentSize` option is honoured, and the
 * server gets the same bytes either way.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Session } from '../../src/index.js';
import { peerSkip } from '../helpers/peers.js';
import { sshdPresent, startSshd, type SshdPeer, sshSessionOptions } from './fixtures/sshd/sshd.js';

const skip = peerSkip(
  'sshd + pwsh (PSRP over SSH)',
  sshdPresent(),
  'apt-get install openssh-server, npm run peers:install, and run as root',
);
let peer: SshdPeer;
before(async () => {
  if (!skip) peer = await startSshd();
});
after(async () => {
  await peer?.stop();
});

/** Open a session and record the payload size (decoded bytes) of every `<Data>` packet written for a pipeline. */
async function sendChunk(fragmentSize: number | undefined): Promise<{ packets: number[]; remoteSha: string; sha: string }> {
  const s = await Session.open({
    ...sshSessionOptions(peer),
    ...(fragmentSize ? { fragmentSize } : {}),
  });
  try {
    // the transport's byte stream (a plain object): count what goes through its write()
    const stream = (s.transport as unknown as { stream: { write(c: string | Uint8Array): unknown } }).stream;
    const write = stream.write;
    const packets: number[] = [];
    stream.write = (c) => {
      const text = typeof c === 'string' ? c : Buffer.from(c).toString('latin1');
      const m = /^<Data Stream='Default' PSGuid='(?!00000000-0000-0000-0000-000000000000)[^']+'>([^<]*)<\/Data>/.exec(text);
      if (m) packets.push(Buffer.from(m[1]!, 'base64').length);
      return write(c);
    };
    const chunk = randomBytes(1024 * 1024);
    const out = await s.invoke(
      "process { [BitConverter]::ToString([Security.Cryptography.SHA256]::HashData($_)).Replace('-', '').ToLowerInvariant() }",
      { input: [chunk] },
    );
    return { packets, remoteSha: String(out.output[0]), sha: createHash('sha256').update(chunk).digest('hex') };
  } finally {
    await s.close();
  }
}

test('SSH: a 1 MiB byte[] goes in one <Data> packet by default; fragmentSize splits it', { skip }, async () => {
  const whole = await sendChunk(undefined);
  assert.equal(whole.remoteSha, whole.sha);
  const big = whole.packets.filter((n) => n > 1024 * 1024);
  assert.equal(big.length, 1, `one packet carries the chunk's message (packets: ${whole.packets.join(', ')})`);

  const split = await sendChunk(64 * 1024);
  assert.equal(split.remoteSha, split.sha);
  assert.ok(split.packets.length >= 21, `1.4 MB of CLIXML in 64 KiB fragments: ${split.packets.length} packets`);
  assert.ok(
    split.packets.every((n) => n <= 64 * 1024),
    `every packet within 64 KiB: ${Math.max(...split.packets)}`,
  );
});
