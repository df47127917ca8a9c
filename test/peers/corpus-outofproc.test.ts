/**
 * The CLIXML corpus through real PSRP: our client -> `pwsh -s` (OutOfProc transport, H5's Session). Each
 * output object we receive is compared, through the corpus's canonical dump, with the same pwsh's own
 * PSSerializer round trip at depth 1 (the depth PSRP uses for pipeline output).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, type ClixmlValue } from '../../src/index.js';
import { findPwsh, peerSkip } from '../helpers/peers.js';
import { CORPUS, diffAt, runCorpus } from '../helpers/corpus.js';

const pwsh = findPwsh();
const skip = peerSkip('pwsh (PowerShell 7.6.9)', !!pwsh);
let s: Session | undefined;

before(async () => { if (!skip) s = await Session.open({ transport: 'process', pwsh, exchangeKeys: true }); });
after(async () => { await s?.close(); });

test(`corpus (${CORPUS.length} expressions) over PSRP (pwsh -s) equals pwsh's own deserialization`, { skip }, async () => {
  const results = await runCorpus(async (c) => {
    // `,$v` emits $v as ONE object (Write-Output -NoEnumerate wraps scalars in a List in PowerShell 7)
    const r = await s!.invoke(`$v = ${c.expr}\n,$v`);
    if (r.hadErrors) throw new Error(`remote errors: ${r.streams.error.length}`);
    if (r.output.length !== 1) throw new Error(`expected one output object, got ${r.output.length}`);
    return r.output[0] as ClixmlValue;
  }, { pwsh: pwsh!, depth: 1 });
  const bad = results.filter((r) => !r.ok);
  assert.deepEqual(bad.map((r) => `${r.name}: ${r.error ?? diffAt(r.expected, r.actual)}`), []);
});
