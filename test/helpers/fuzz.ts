/**
 * Reproducible randomness for the fuzz tier. Every run draws a seed (or takes WINRM_TS_FUZZ_SEED) and prints it, so a
 * failure can be replayed exactly: `WINRM_TS_FUZZ_SEED=<seed> node scripts/test.mjs <file>`.
 */
import { randomInt } from 'node:crypto';

function parseSeed(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new Error(`WINRM_TS_FUZZ_SEED must be an integer 0..4294967295, got ${JSON.stringify(v)}`);
  return n;
}

/** The seed of this run (per test file process). */
export const FUZZ_SEED: number = parseSeed(process.env.WINRM_TS_FUZZ_SEED) ?? randomInt(0, 0xffffffff);

let announced = false;
function announce(): void {
  if (announced) return;
  announced = true;
  console.log(`fuzz seed ${FUZZ_SEED} (replay: WINRM_TS_FUZZ_SEED=${FUZZ_SEED})`);
  process.once('exit', (code) => {
    if (code !== 0 || (process.exitCode ?? 0) !== 0)
      process.stderr.write(`fuzz seed ${FUZZ_SEED}: replay this failure with WINRM_TS_FUZZ_SEED=${FUZZ_SEED}\n`);
  });
}

/** A seeded generator (mulberry32): deterministic for one seed. */
export class FuzzRandom {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** a float in [0, 1) */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** an integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** a 31-bit integer (to seed a test's own generator) */
  int31(): number {
    return this.int(0x7fffffff) + 1;
  }
  /** n random bytes */
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** The generator of a test file, seeded from FUZZ_SEED and `salt` (e.g. the file name); prints the seed once. */
export function fuzzRandom(salt = ''): FuzzRandom {
  announce();
  let h = FUZZ_SEED ^ 0x9e3779b9;
  for (let i = 0; i < salt.length; i++) h = Math.imul(h ^ salt.charCodeAt(i), 0x01000193) >>> 0;
  return new FuzzRandom(h);
}
