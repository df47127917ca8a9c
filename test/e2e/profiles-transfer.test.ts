/**
 * `copy` and `fetch` over a host list (-H a,b): names resolved through the config file's profiles, one transfer per
 * host, `fetch` into DIR/<host>/, a dead host reported without holding back the others. Real pwsh behind the endpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { USER, PASSWORD } from '../helpers/server-fixture.js';
import { dir, ep, fileSha, randomFile, skip, useEndpoint } from './transfer-fixture.js';

useEndpoint();

async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function setup(): { cfg: string; env: NodeJS.ProcessEnv } {
  const cfg = join(dir, 'config.json');
  return { cfg, env: { ...process.env, XDG_CONFIG_HOME: join(dir, 'xdg'), WINRM_PASSWORD: PASSWORD } };
}

test("fetch -H web1,web2 DIR: each host's files in DIR/<name>/, verified", { skip }, async () => {
  const { cfg, env } = setup();
  const p = { host: `127.0.0.1:${ep.port}`, user: USER, auth: 'basic', allowUnencrypted: true };
  writeFileSync(cfg, JSON.stringify({ hosts: { web1: p, web2: p } }));
  const src = join(dir, 'remote-src.bin');
  const want = randomFile(src, 300_000);
  const out = join(dir, 'fetched');
  const r = await runCli(['fetch', '--config', cfg, '-H', 'web1,web2', '--throttle', '2', src, out], { env });
  assert.equal(r.code, 0, r.stderr);
  for (const h of ['web1', 'web2']) assert.equal(fileSha(join(out, h, 'remote-src.bin')), want, h);
  assert.match(r.stdout, /^\[web1\] fetched 1 file, .* SHA-256 verified$/m);
  assert.match(r.stderr, /2 of 2 hosts succeeded/);
  // stdout cannot be shared
  const bad = await runCli(['fetch', '--config', cfg, '-H', 'web1,web2', src, '-'], { env });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /many hosts: fetch into a directory/);
});

test('copy -H live,dead --json: the live host gets the file, the dead one is reported, exit 1', { skip }, async () => {
  const { cfg, env } = setup();
  const dead = await deadPort();
  writeFileSync(
    cfg,
    JSON.stringify({
      hosts: {
        live: { host: `127.0.0.1:${ep.port}`, auth: 'basic', allowUnencrypted: true },
        dead: { host: `127.0.0.1:${dead}`, connectTimeout: 5 },
      },
      defaults: { user: USER },
    }),
  );
  const src = join(dir, 'to-copy.bin');
  const want = randomFile(src, 200_000);
  const target = join(dir, 'copied');
  mkdirSync(target, { recursive: true });
  const r = await runCli(['copy', '--config', cfg, '-H', 'live,dead', '--json', src, target], { env });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(fileSha(join(target, 'to-copy.bin')), want);
  const recs = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(
    recs.some((x) => x.PSComputerName === 'live' && x.type === 'done' && x.files === 1 && x.bytes === 200_000),
    r.stdout,
  );
  assert.ok(
    recs.some((x) => x.PSComputerName === 'dead' && (x.error as { code?: string } | undefined)?.code === 'WINRM_ERR_CONNECT'),
    r.stdout,
  );
  assert.match(r.stderr, /1 of 2 hosts succeeded/);
  assert.ok(!existsSync(join(target, 'live')), 'copy does not make per-host directories');
});
