/**
 * The CLIXML corpus through real PSRP: our client -> `pwsh -s` (OutOfProc transport, H5's Session). Each
 * output object we receive is compared, through the corpus's canonical dump, with the same pwsh's own
 * PSSerializer round trip at depth 1 (the depth PSRP uses for pipeline output).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Session } from '../../src/index.js';
import { findPwsh, peerSkip } from '../helpers/peers.js';
import { CORPUS, corpusFailures, runCorpus, sessionValue } from '../helpers/corpus.js';

const pwsh = findPwsh();
const skip = peerSkip('pwsh (PowerShell 7.6.9)', !!pwsh);
let s: Session | undefined;

before(async () => {
  if (!skip) s = await Session.open({ transport: 'process', pwsh, exchangeKeys: true });
});
after(async () => {
  await s?.close();
});

test(`corpus (${CORPUS.length} expressions) over PSRP (pwsh -s) equals pwsh's own deserialization`, { skip }, async () => {
  const results = await runCorpus(sessionValue(s!), { pwsh: pwsh!, depth: 1 });
  assert.deepEqual(corpusFailures(results), []);
});
