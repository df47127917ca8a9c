/**
 * The CLIXML corpus (test/helpers/corpus.ts, ≥ 60 expressions covering every type) through PSRP over SSH:
 * our client → OpenSSH sshd → `pwsh -sshs`. Each value we receive is compared, through the corpus's documented
 * canonical dump, with the same pwsh's own PSSerializer round trip at depth 1 (the depth PSRP output uses).
 * The session exchanges keys when it opens: a 2.3 client must send its PUBLIC_KEY before the server can send
 * SecureStrings (pwsh-server.md §2). A few cases legitimately differ between a remoting pipeline and
 * `[PSSerializer]::Serialize($v)` in a script; they are listed in DIFFERS with the reason and still have to arrive.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, type ClixmlValue } from '../../src/index.js';
import { findPwsh, peerSkip } from '../helpers/peers.js';
import { CORPUS, corpusFailures, pwshReference, runCorpus, type Reference } from '../helpers/corpus.js';
import { sshdPresent, startSshd, type SshdPeer, sshSessionOptions } from './fixtures/sshd/sshd.js';

const skip = peerSkip(
  'sshd + pwsh (PSRP over SSH)',
  sshdPresent(),
  'apt-get install openssh-server, npm run peers:install, and run as root',
);
/** cases whose remote value cannot equal the local reference, and why (they must still deserialize) */
const DIFFERS: Record<string, string> = {
  informationrecord: 'TimeGenerated is the time of evaluation',
  errorrecord: 'InvocationInfo names the script and line the error was thrown from (the reference runs a .ps1)',
  directoryinfo: 'Attributes of / depend on the user (the remote user is not root: ReadOnly)',
  'string-with-note': 'a method argument loses the PSObject wrapper and its note; the pipeline keeps it (the remote value has more)',
  cycle: "the pipeline's PSObject wrapper and the raw Hashtable are different identities to the remote serializer",
};
let peer: SshdPeer;
let s: Session;
let reference: Map<string, Reference>;

before(async () => {
  if (skip) return;
  // the local reference (one pwsh run) and the SSH session start side by side
  const open = (async () => {
    peer = await startSshd();
    s = await Session.open({
      ...sshSessionOptions(peer),
      exchangeKeys: true,
    });
  })();
  const [ref] = await Promise.allSettled([pwshReference(findPwsh()!, CORPUS, 1), open]).then((r) => {
    for (const x of r) if (x.status === 'rejected') throw x.reason;
    return r.map((x) => (x as PromiseFulfilledResult<unknown>).value);
  });
  reference = ref as Map<string, Reference>;
});
after(async () => {
  await s?.close();
  await peer?.stop();
});

test(`corpus (${CORPUS.length} expressions) over SSH equals pwsh's own deserialization`, { skip }, async () => {
  assert.ok(CORPUS.length >= 60);
  const results = await runCorpus(
    async (c) => {
      const r = await s.invoke(`$v = ${c.expr}\n,$v`);
      if (r.hadErrors) throw new Error(`remote errors: ${r.streams.error.length}`);
      // the last object is `,$v` (an EXPR with several statements may write to the pipeline before it)
      if (r.output.length < 1) throw new Error('no output object');
      return r.output[r.output.length - 1] as ClixmlValue;
    },
    { pwsh: findPwsh()!, all: true, reference },
  );
  for (const r of results) if (DIFFERS[r.name]) assert.ok(r.actual !== undefined, `${r.name} did not arrive: ${r.error}`);
  assert.deepEqual(
    corpusFailures(results, (name) => !!DIFFERS[name]),
    [],
  );
});
