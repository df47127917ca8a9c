// After tsc: bundle the CLI (dist/src/cli/main.js) into dist/src/bundle/ — one chunk per command plus shared chunks
// (esbuild code splitting), npm packages left to node_modules. A cold start then reads a few files instead of ~100:
// bench/results/2026-11-30-cold-start.md. The directory sits beside dist/src/server so that src/server/broker.ts,
// which finds the CLI from its own location (../cli/main.js), still finds the tsc build (so no chunk sub-directory).
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'src', 'bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist', 'src', 'cli', 'main.js')],
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  outdir,
  logLevel: 'warning',
  chunkNames: '[name]-[hash]',
});
