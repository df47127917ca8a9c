/**
 * Real PowerShell as a client over the same sshd: `Invoke-Command -Session (New-PSSession -HostName ...)` (the
 * transport of `Invoke-Command -HostName`) and our client run the same expressions and must get the same results.
 * Normalisation: pwsh removes the notes Invoke-Command adds (PSComputerName, RunspaceId, PSShowComputerName) and
 * re-serializes what it received with PSSerializer; we read that back and compare it with what our client received
 * through test/helpers/corpus.ts `canonicalDump` (the documented corpus dump: types without "Deserialized.",
 * properties, collections, values); a primitive that only carried those notes comes back from the re-serialization
 * as an Obj around the value with no properties, which `bare` unwraps to the value itself.
 * Error and warning messages are compared as text.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { PSObject, PSList, Session, deserializeDocument, describeRemoteError, type ClixmlValue } from '../../src/index.js';
import { peerSkip } from '../helpers/peers.js';
import { canonicalDump, diffAt } from '../helpers/corpus.js';
import { sshdLog, sshdPresent, startSshd, type SshdPeer, sshSessionOptions } from './fixtures/sshd/sshd.js';

const skip = peerSkip(
  'sshd + pwsh (PSRP over SSH)',
  sshdPresent(),
  'apt-get install openssh-server, npm run peers:install, and run as root',
);
const CLIENT_PS1 = new URL('./fixtures/sshd/pwsh-client.ps1', import.meta.url).pathname;

/** expressions both clients run (statements allowed) */
const CASES: Array<[string, string]> = [
  ['int', '1+1'],
  ['string-unicode', "'héllo wörld ✓ こんにちは 😀'"],
  ['int64', '[int64]::MaxValue'],
  ['double', '0.1 + 0.2'],
  ['decimal', "[decimal]'1.50'"],
  ['bool', '$true; $false'],
  ['datetime', '[datetime]::new(2020,1,2,3,4,5,[DateTimeKind]::Utc)'],
  ['guid', "[guid]'792E5B37-4505-47EF-B7D2-8711BB7AFFA8'"],
  ['range', '1..5'],
  ['hashtable', "@{ a = 1; b = 'x'; c = @(1, 2) }"],
  ['pscustomobject', "[pscustomobject]@{ n = 'x'; v = @(1, 2); d = [pscustomobject]@{ z = 1 } }"],
  ['enum', '[ConsoleColor]::Red'],
  ['bytes', ',[byte[]](1, 2, 3)'],
  ['big-string', "'ab' * 50000"],
  ['objects-200', '1..200 | ForEach-Object { [pscustomobject]@{ i = $_; s = "x$_" } }'],
  ['directory', "$d = Get-Item /usr; $d.PSObject.Properties.Remove('PSDrive'); $d"], // PSDrive's Used/Free change between runs
  ['whoami', 'whoami; $PSVersionTable.PSVersion.ToString()'],
  ['errors', "Write-Error 'first boom'; 'after'; Write-Error 'second boom'"],
  ['warnings', "Write-Warning 'careful now'; 'value'"],
  [
    'mixed-pipeline',
    "Get-ChildItem / | Where-Object Name -in 'etc','tmp' | Sort-Object Name | Select-Object Name, @{ n = 'IsDir'; e = { " +
      '$_.PSIsContainer } }',
  ],
];

let peer: SshdPeer;
let dir: string;

before(async () => {
  if (skip) return;
  peer = await startSshd();
  dir = mkdtempSync(join(tmpdir(), 'winrm-ts-ssh-pwsh-'));
});
after(async () => {
  await peer?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function runPwshClient(): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(
      peer.pwsh,
      [
        '-NoLogo',
        '-NoProfile',
        '-NonInteractive',
        '-File',
        CLIENT_PS1,
        '-HostName',
        '127.0.0.1',
        '-Port',
        String(peer.port),
        '-UserName',
        peer.user,
        '-KeyFilePath',
        peer.keyPath,
        '-KnownHosts',
        peer.knownHosts,
        '-Dir',
        dir,
        '-Count',
        String(CASES.length),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    c.stdout.resume();
    c.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, stderr }));
  });
}

/** an Obj that only wraps a primitive (no properties, no ToString of its own) -> the primitive */
function bare(v: ClixmlValue): ClixmlValue {
  if (
    v instanceof PSObject &&
    v.value !== undefined &&
    !v.collection &&
    v.toStringValue === undefined &&
    v.adapted.size === 0 &&
    v.extended.size === 0
  )
    return v.value as ClixmlValue;
  return v;
}
const msgOf = (r: ClixmlValue) => (r instanceof PSObject ? String(r.get('Message') ?? r.toStringValue ?? '') : String(r));

test('our client and pwsh Invoke-Command -HostName get the same results over the same sshd', { skip }, async () => {
  CASES.forEach(([, expr], i) => writeFileSync(join(dir, `${i}.ps1`), expr));
  // real pwsh and our client run side by side (each has its own SSH connection and remote pwsh)
  const ours = (async () => {
    const s = await Session.open({
      ...sshSessionOptions(peer),
    });
    try {
      const out = [];
      for (const [, expr] of CASES) out.push(await s.invoke(expr));
      return out;
    } finally {
      await s.close();
    }
  })();
  const [theirs, mine] = await Promise.all([runPwshClient(), ours]);
  assert.equal(theirs.code, 0, `pwsh client failed: ${theirs.stderr.slice(0, 2000)}\nsshd log:\n${sshdLog(peer)}`);

  const diffs: string[] = [];
  CASES.forEach(([name], i) => {
    const doc = deserializeDocument(readFileSync(join(dir, `${i}.xml`), 'utf8'));
    const list = doc[0];
    const items = list instanceof PSObject && list.collection instanceof PSList ? (list.collection.items as ClixmlValue[]) : [];
    const expected = items.map((v) => canonicalDump(bare(v)));
    const actual = mine[i]!.output.map((v) => canonicalDump(v));
    if (JSON.stringify(expected) !== JSON.stringify(actual))
      diffs.push(`${name}: ${expected.length} vs ${actual.length} objects; ${diffAt(JSON.stringify(expected), JSON.stringify(actual))}`);
    const errs = readFileSync(join(dir, `${i}.err`), 'utf8');
    const myErrs = mine[i]!.streams.error.map((e) => describeRemoteError(e)).join('\n');
    if (errs !== myErrs) diffs.push(`${name} errors: pwsh ${JSON.stringify(errs)} ours ${JSON.stringify(myErrs)}`);
    const warns = readFileSync(join(dir, `${i}.warn`), 'utf8');
    const myWarns = mine[i]!.streams.warning.map(msgOf).join('\n');
    if (warns !== myWarns) diffs.push(`${name} warnings: pwsh ${JSON.stringify(warns)} ours ${JSON.stringify(myWarns)}`);
  });
  assert.deepEqual(diffs, []);
  // the comparison is not vacuous
  assert.match(readFileSync(join(dir, `${CASES.findIndex(([n]) => n === 'errors')}.err`), 'utf8'), /first boom\nsecond boom/);
});
