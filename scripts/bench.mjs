#!/usr/bin/env node
// Runs the benchmarks one after another (never in parallel: machines are noisy) and leaves their results in
// bench/results/<date>-<name>.md|json. Usage: node scripts/bench.mjs [name ...]   (default: all)
// Add a bench: one entry below { name, file, args }. Kept out of `npm test`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const today = new Date().toISOString().slice(0, 10);
const BENCHES = [
  { name: 'winrs', file: 'bench/winrs.ts', args: [] },
  { name: 'ntlm', file: 'bench/ntlm-winrm.ts', args: [] },
  { name: 'credssp', file: 'bench/credssp-winrm.ts', args: [] },
  { name: 'psrp', file: 'bench/psrp-outofproc.ts', args: ['--json', `bench/results/${today}-psrp.json`] },
  { name: 'ssh', file: 'bench/ssh.ts', args: [] },
  { name: 'psrp-winrm', file: 'bench/psrp-winrm.ts', args: [] },
  { name: 'transfer', file: 'bench/transfer.ts', args: [] },
  { name: 'transfer-ssh', file: 'bench/transfer-ssh.ts', args: [] },
  { name: 'clixml', file: 'bench/clixml-deserialize.ts', args: ['--json', `bench/results/${today}-clixml.json`] },
  { name: 'fanout', file: 'bench/fanout.mjs', args: [] },
  { name: 'stream', file: 'bench/stream.ts', args: [] },
  { name: 'endpoint', file: 'bench/endpoint-throughput.ts', args: [] },
];
// the library finds pwsh through WINRM_TS_PWSH or PATH only; the benches use the peer install when nothing else is set
if (!process.env.WINRM_TS_PWSH) {
  const peerPwsh = join(process.env.WINRM_TS_PEERS_DIR ?? '/opt/winrm-ts-peers', 'pwsh', 'pwsh');
  if (existsSync(peerPwsh)) process.env.WINRM_TS_PWSH = peerPwsh;
}
const wanted = process.argv.slice(2);
let failed = 0;
for (const b of BENCHES) {
  if (wanted.length && !wanted.includes(b.name)) continue;
  if (!existsSync(join(root, b.file))) {
    console.log(`bench ${b.name}: ${b.file} missing, skipped`);
    continue;
  }
  console.log(`\n=== bench ${b.name} (${b.file})`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, b.file), ...b.args], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`bench ${b.name} failed (exit ${r.status})`);
  }
}
process.exit(failed ? 1 : 0);
