/**
 * The CLIXML corpus through PSRP over WinRM: our client -> our endpoint (Negotiate, sealed HTTP; Basic when
 * Negotiate is not registered) -> the real pwsh. Each output object is compared, through the corpus's canonical
 * dump, with the same pwsh's own PSSerializer round trip at depth 1 (the depth PSRP uses for pipeline output).
 * The 1 MB string and 100 000-element cases cross several envelopes and fragments.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Session } from '../../src/index.js';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';
import { getMechanism } from '../../src/auth/registry.js';
import { findPwsh, peerSkip } from '../helpers/peers.js';
import { CORPUS, corpusFailures, runCorpus, sessionValue } from '../helpers/corpus.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';

const pwsh = findPwsh();
const skip = peerSkip('pwsh (PowerShell 7.6.9)', !!pwsh);
const auth = getMechanism('negotiate')?.acceptor ? 'negotiate' : 'basic';
let s: Session | undefined;
let ps: PsrpEndpoint | undefined;
let ep: Awaited<ReturnType<typeof startEndpoint>> | undefined;

before(async () => {
  if (skip) return;
  ps = new PsrpEndpoint({ pwsh });
  ep = await startEndpoint({ auth: [auth], allowUnencrypted: auth === 'basic', resources: ps.resources() });
  s = await Session.open({
    transport: 'wsman',
    computerName: `127.0.0.1:${ep.port}`,
    username: USER,
    password: PASSWORD,
    auth,
    exchangeKeys: true,
  });
});
after(async () => {
  await s?.close();
  await ps?.close();
  await ep?.close();
});

test(`corpus (${CORPUS.length} expressions) over WinRM (${auth}) equals pwsh's own deserialization`, { skip }, async () => {
  const results = await runCorpus(sessionValue(s!), { pwsh: pwsh!, depth: 1 });
  assert.deepEqual(corpusFailures(results), []);
});
