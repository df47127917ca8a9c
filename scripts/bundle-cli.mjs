// After tsc: bundle the CLI (dist/src/cli/main.js) into dist/src/bundle/ — one chunk per command plus shared chunks
// (esbuild code splitting). A cold start then reads a few files instead of ~100: bench/results/2026-11-30-cold-start.md.
// The directory sits beside dist/src/server so that src/server/broker.ts, which finds the CLI from its own location
// (../cli/main.js), still finds the tsc build (so no chunk sub-directory).
// npm packages stay in node_modules, except the small pure-JS CommonJS ones every command loads (commander, saxes and
// its xmlchars): imported from ES modules, Node runs each CommonJS file of theirs through its export lexer and
// translator, which cost more start-up CPU (~100 ms) than the packages themselves; bundled, they are plain functions.
// Their `require` of Node's built-in modules goes to a real `require` (the banner).
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'src', 'bundle');
const INLINE = new Set(['commander', 'saxes', 'xmlchars']);
const { dependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist', 'src', 'cli', 'main.js')],
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: Object.keys(dependencies).filter((name) => !INLINE.has(name)),
  banner: {
    js:
      "import { createRequire as __winrmTsCreateRequire } from 'node:module';\n" +
      'const require = __winrmTsCreateRequire(import.meta.url);',
  },
  outdir,
  logLevel: 'warning',
  chunkNames: '[name]-[hash]',
});
