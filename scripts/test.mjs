#!/usr/bin/env node
// Runs the test tiers with Node's test runner (TypeScript loaded through tsx, no build needed).
// Usage: node scripts/test.mjs [--tier unit|pair|e2e|peers|fuzz ...] [file filter substrings...]
// WINRM_TS_REQUIRE_PEERS=1 turns "peer missing -> skip" into a failure (CI sets it).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const tiers = [];
const filters = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--tier') tiers.push(args[++i]);
  else if (args[i] === '--dist')
    process.env.WINRM_TS_TEST_DIST = '1'; // spawned CLIs run the fresh build (npm test builds first)
  else filters.push(args[i]);
}
function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
// The library finds pwsh through WINRM_TS_PWSH or PATH only; tests use the peer install when nothing else is set.
if (!process.env.WINRM_TS_PWSH) {
  const peerPwsh = join(process.env.WINRM_TS_PEERS_DIR ?? '/opt/winrm-ts-peers', 'pwsh', 'pwsh');
  if (existsSync(peerPwsh)) process.env.WINRM_TS_PWSH = peerPwsh;
}
let files = walk(join(root, 'test'), []).sort();
if (tiers.length) files = files.filter((f) => tiers.some((t) => relative(join(root, 'test'), f).startsWith(t + '/')));
if (filters.length) files = files.filter((f) => filters.some((s) => f.includes(s)));
if (!files.length) {
  console.error('no test files matched');
  process.exit(1);
}
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files], {
  stdio: 'inherit',
  cwd: root,
  env: process.env,
});
child.on('exit', (code, sig) => process.exit(sig ? 1 : (code ?? 1)));
