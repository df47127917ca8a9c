// copy / fetch onto a full file system: a 1 MiB tmpfs mounted for the test (root only). The remote side (the real
// pwsh behind the endpoint) and the local side each report a DiskFullError naming the path, never a silent success
// or a half-written target.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskFullError } from '../../src/index.js';
import { peerSkip } from '../helpers/peers.js';
import { useEndpoint, skip as noPwsh, session, dir, randomFile } from './transfer-fixture.js';

useEndpoint();

/** Mount a tiny tmpfs; undefined when this machine does not allow it (not root, no mount). */
function mountTiny(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const mnt = mkdtempSync(join(tmpdir(), 'winrm-ts-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'ignore' });
    return mnt;
  } catch {
    rmSync(mnt, { recursive: true, force: true });
    return undefined;
  }
}
const mnt = noPwsh ? undefined : mountTiny();
const skip = noPwsh || peerSkip('a mountable tmpfs (root)', !!mnt, 'run the tests as root where mount is allowed');

after(() => {
  if (!mnt) return;
  try {
    execFileSync('umount', [mnt], { stdio: 'ignore' });
  } catch {
    /* busy: lazy */ try {
      execFileSync('umount', ['-l', mnt], { stdio: 'ignore' });
    } catch {
      /* ignore */
    }
  }
  rmSync(mnt, { recursive: true, force: true });
});

let big: string;
before(() => {
  if (skip) return;
  big = join(dir, 'big.bin');
  randomFile(big, 3 * 1024 * 1024);
});

test('copy onto a full remote volume: DiskFullError (remote side), the target never appears', { skip }, async () => {
  const target = join(mnt!, 'sub', 'big.bin');
  mkdirSync(join(mnt!, 'sub'));
  const e = await session.copy(big, target, { resume: false }).then(
    () => undefined,
    (x: unknown) => x,
  );
  assert.ok(e instanceof DiskFullError, `expected DiskFullError, got ${String(e)}`);
  assert.equal(e.side, 'remote');
  assert.match(e.message, /space/);
  assert.ok(!existsSync(target), 'no half file under the target name');
});

test('fetch onto a full local volume: DiskFullError (local side), the target never appears', { skip }, async () => {
  rmSync(join(mnt!, 'sub'), { recursive: true, force: true });
  const target = join(mnt!, 'got.bin');
  // the same Session as the failed copy above: a pipeline that failed mid-input leaves it usable at once
  const e = await session.fetch(big, target, { resume: false }).then(
    () => undefined,
    (x: unknown) => x,
  );
  assert.ok(e instanceof DiskFullError, `expected DiskFullError, got ${String(e)}`);
  assert.equal(e.side, 'local');
  assert.ok(!existsSync(target), 'no half file under the target name');
  assert.ok(readdirSync(mnt!).every((n) => n !== 'got.bin'));
});
