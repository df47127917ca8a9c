/**
 * Bench: CPU cost of NTLM sealing (MS-NLMP 3.4.3 wrap = RC4 + HMAC-MD5 signature) per MB, against plain RC4 over the
 * same bytes (our pure-TS RC4: the floor for sealing in Node 20, whose OpenSSL 3 refuses RC4), and, for reference,
 * OpenSSL's RC4 through `node --openssl-legacy-provider` in a child process.
 * Run: node --import tsx bench/ntlm-seal.ts [--mb 64] [--json out.json]
 */
import { execFileSync } from 'node:child_process';
import { RC4 } from '../src/crypto/rc4.js';
import { NtlmSession } from '../src/auth/ntlm/security.js';
import { INITIATOR_FLAGS } from '../src/auth/ntlm/initiator.js';

export interface SealBenchResult {
  name: string;
  mb: number;
  cpuMsPerMb: number;
  mbPerSec: number;
}

const CHUNK = 150 * 1024; // about one WinRM envelope (MaxEnvelopeSize 153600)

function measure(name: string, mb: number, fn: (chunk: Uint8Array) => void): SealBenchResult {
  const chunk = new Uint8Array(CHUNK).map((_, i) => (i * 31) & 0xff);
  const n = Math.ceil((mb * 1024 * 1024) / CHUNK);
  for (let i = 0; i < 20; i++) fn(chunk); // warm-up (JIT)
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(chunk);
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1000;
  const realMb = (n * CHUNK) / (1024 * 1024);
  return {
    name,
    mb: Number(realMb.toFixed(1)),
    cpuMsPerMb: Number((cpu / realMb).toFixed(2)),
    mbPerSec: Number((realMb / (wall / 1000)).toFixed(1)),
  };
}

function nativeRc4(mb: number): SealBenchResult | undefined {
  const script =
    `const c=require('crypto');const k=Buffer.alloc(16,5);const d=Buffer.alloc(${CHUNK},65);const n=Math.ceil(${mb}*1048576/${CHUNK});` +
    `const x=c.createCipheriv('rc4',k,null);for(let i=0;i<20;i++)x.update(d);const c0=process.cpuUsage();const t=process.hrtime.bigint();` +
    `for(let i=0;i<n;i++)x.update(d);const w=Number(process.hrtime.bigint()-t)/1e6;const u=process.cpuUsage(c0);const ` +
    `m=n*${CHUNK}/1048576;` +
    `console.log(JSON.stringify({cpu:(u.user+u.system)/1000,wall:w,mb:m}))`;
  try {
    const r = JSON.parse(
      execFileSync(process.execPath, ['--openssl-legacy-provider', '-e', script], { encoding: 'utf8', timeout: 60000 }),
    ) as { cpu: number; wall: number; mb: number };
    return {
      name: 'OpenSSL RC4 (legacy provider, reference)',
      mb: Number(r.mb.toFixed(1)),
      cpuMsPerMb: Number((r.cpu / r.mb).toFixed(2)),
      mbPerSec: Number((r.mb / (r.wall / 1000)).toFixed(1)),
    };
  } catch {
    return undefined;
  }
}

export function runSealBench(mb = 64): SealBenchResult[] {
  const key = new Uint8Array(16).fill(0x55);
  const rc4 = new RC4(key);
  const out = new Uint8Array(CHUNK);
  const ini = new NtlmSession(key, INITIATOR_FLAGS, 'initiator');
  const acc = new NtlmSession(key, INITIATOR_FLAGS, 'acceptor');
  const ini2 = new NtlmSession(key, INITIATOR_FLAGS, 'initiator');
  const accOut = new NtlmSession(key, INITIATOR_FLAGS, 'acceptor');
  const iniIn = new NtlmSession(key, INITIATOR_FLAGS, 'initiator');
  const results = [
    measure('plain RC4 (winrm-ts, pure TS)', mb, (c) => {
      rc4.update(c, out);
    }),
    measure('NTLM seal (wrap: RC4 + HMAC-MD5 signature)', mb, (c) => {
      ini.wrap(c);
    }),
    measure('NTLM seal + unseal (wrap, then unwrap + verify)', mb / 2, (c) => {
      const w = ini2.wrap(c);
      acc.unwrap(w.signature, w.sealed);
    }),
  ];
  // unwrap alone: pre-seal a stream from the acceptor side
  const sealed = Array.from({ length: 20 + Math.ceil((mb * 1048576) / CHUNK) }, () => accOut.wrap(new Uint8Array(CHUNK)));
  let k = 0;
  results.push(
    measure('NTLM unseal (unwrap + verify)', mb, () => {
      const w = sealed[k++]!;
      iniIn.unwrap(w.signature, w.sealed);
    }),
  );
  const nat = nativeRc4(mb);
  if (nat) results.push(nat);
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--mb');
  const mb = i > 0 ? Number(process.argv[i + 1]) : 64;
  const res = runSealBench(mb);
  const base = res[0]!.cpuMsPerMb;
  console.log('| operation | MB | CPU ms/MB | MB/s | CPU vs plain RC4 |');
  console.log('|---|---|---|---|---|');
  for (const r of res) console.log(`| ${r.name} | ${r.mb} | ${r.cpuMsPerMb} | ${r.mbPerSec} | ${(r.cpuMsPerMb / base).toFixed(2)}x |`);
  const j = process.argv.indexOf('--json');
  if (j > 0) {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(process.argv[j + 1]!, JSON.stringify(res, null, 2));
  }
}
