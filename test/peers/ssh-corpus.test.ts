/**
 * The CLIXML corpus (test/helpers/corpus.ts, ≥ 60 expressions covering every type) through PSRP over SSH:
 * our client → OpenSSH sshd → `pwsh -sshs`. Each value we receive is compared, through the corpus's documented
 * canonical dump, with the same pwsh's own PSSerializer round trip at depth 1 (the depth PSRP output uses).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, type ClixmlValue } from '../../src/index.js';
import { peerSkip } from '../helpers/peers.js';
import { CORPUS, diffAt, runCorpus } from '../helpers/corpus.js';
import { sshdPresent, startSshd, type SshdPeer } from './fixtures/sshd/sshd.js';

const skip = peerSkip('sshd + pwsh (PSRP over SSH)', sshdPresent(), 'apt-get install openssh-server, npm run peers:install, and run as root');
let peer: SshdPeer;
let s: Session;

before(async () => {
  if (skip) return;
  peer = await startSshd();
  s = await Session.open({ transport: 'ssh', computerName: `127.0.0.1:${peer.port}`, username: peer.user, privateKeyPath: peer.keyPath, knownHostsPath: peer.knownHosts });
});
after(async () => { await s?.close(); await peer?.stop(); });

test(`corpus (${CORPUS.length} expressions) over SSH equals pwsh's own deserialization`, { skip }, async () => {
  assert.ok(CORPUS.length >= 60);
  const results = await runCorpus(async (c) => {
    const r = await s.invoke(`$v = ${c.expr}\nWrite-Output -NoEnumerate $v`);
    if (r.hadErrors) throw new Error(`remote errors: ${r.streams.error.length}`);
    if (r.output.length !== 1) throw new Error(`expected one output object, got ${r.output.length}`);
    return r.output[0] as ClixmlValue;
  }, { pwsh: peer.pwsh, depth: 1 });
  const bad = results.filter((r) => !r.ok);
  assert.deepEqual(bad.map((r) => `${r.name}: ${r.error ?? diffAt(r.expected, r.actual)}`), []);
});
