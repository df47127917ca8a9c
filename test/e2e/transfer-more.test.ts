// copy / fetch end to end: a tree of 200 files with modes, streams, and the typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { PathNotFoundError, FileAccessDeniedError, PathKindError, InvalidNameError } from '../../src/index.js';
import { useEndpoint, skip, session, dir, sha } from './transfer-fixture.js';

useEndpoint();

test(
  'a tree of 200 small files in nested directories (and an empty one) keeps its paths, bytes and modes both ways',
  { skip },
  async () => {
    const src = join(dir, 'tree');
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 200; i++) {
      const rel = join(`d${i % 7}`, `sub${i % 3}`, `f${i}.txt`);
      mkdirSync(join(src, rel, '..'), { recursive: true });
      const b = randomBytes((i * 37) % 3000);
      files.set(rel, b);
      writeFileSync(join(src, rel), b);
      if (i % 10 === 0) chmodSync(join(src, rel), 0o640);
    }
    mkdirSync(join(src, 'empty'));
    const remoteRoot = join(dir, 'remote-tree');
    mkdirSync(remoteRoot);
    // into an existing directory: lands under its name (cp -r semantics)
    const up = await session.copy(src, remoteRoot);
    assert.equal(up.files.length, 200);
    const landed = join(remoteRoot, 'tree');
    for (const [rel, b] of files) {
      assert.deepEqual(readFileSync(join(landed, rel)), b, rel);
      assert.equal(statSync(join(landed, rel)).mode & 0o777, statSync(join(src, rel)).mode & 0o777, `${rel}: mode kept`);
    }
    assert.ok(statSync(join(landed, 'empty')).isDirectory(), 'empty directories are created');
    // and back to a new local name
    const back = join(dir, 'tree-back');
    const down = await session.fetch(landed, back);
    assert.equal(down.files.length, 200);
    for (const [rel, b] of files) {
      assert.deepEqual(readFileSync(join(back, rel)), b, rel);
      assert.equal(statSync(join(back, rel)).mode & 0o777, statSync(join(src, rel)).mode & 0o777, `${rel}: mode kept on fetch`);
    }
    assert.ok(statSync(join(back, 'empty')).isDirectory());
  },
);

test('streams: Session.copy from a Readable, Session.fetch into a Writable', { skip }, async () => {
  const data = randomBytes(700_000);
  const remote = join(dir, 'streamed.bin');
  const src = new PassThrough();
  setImmediate(() => {
    for (let o = 0; o < data.length; o += 65_536) src.write(data.subarray(o, o + 65_536));
    src.end();
  });
  const r = await session.copy(src, remote, { mode: 0o600 });
  assert.equal(r.files[0]!.sha256, sha(data));
  assert.deepEqual(readFileSync(remote), data);
  assert.equal(statSync(remote).mode & 0o777, 0o600);
  const sink = new PassThrough();
  const parts: Buffer[] = [];
  sink.on('data', (c: Buffer) => parts.push(c));
  const f = await session.fetch(remote, sink);
  assert.equal(f.files[0]!.sha256, sha(data));
  assert.deepEqual(Buffer.concat(parts), data);
});

test('typed errors: missing paths, access denied, a directory where a file goes (and the reverse), a name too long', { skip }, async () => {
  const f = join(dir, 'small.txt');
  writeFileSync(f, 'x');
  await assert.rejects(
    session.fetch(join(dir, 'no-such-file'), join(dir, 'x')),
    (e: unknown) => e instanceof PathNotFoundError && e.side === 'remote' && /does not exist/.test(e.message),
  );
  await assert.rejects(
    session.copy(f, join(dir, 'no-such-dir', 'x.txt')),
    (e: unknown) => e instanceof PathNotFoundError && e.side === 'remote',
  );
  await assert.rejects(
    session.copy(join(dir, 'no-such-local'), join(dir, 'y')),
    (e: unknown) => e instanceof PathNotFoundError && e.side === 'local',
  );
  // /sys refuses new files even to root
  await assert.rejects(
    session.copy(f, '/sys/winrm-ts-transfer-test'),
    (e: unknown) => e instanceof FileAccessDeniedError && e.side === 'remote',
  );
  // a directory in the way of a file, a file in the way of a directory
  mkdirSync(join(dir, 'box', 'small.txt'), { recursive: true });
  await assert.rejects(session.copy(f, join(dir, 'box')), (e: unknown) => e instanceof PathKindError && e.reason === 'is-directory');
  const tree = join(dir, 'tiny-tree');
  mkdirSync(tree);
  writeFileSync(join(tree, 'a'), 'a');
  await assert.rejects(session.copy(tree, f), (e: unknown) => e instanceof PathKindError && e.reason === 'not-a-directory');
  await assert.rejects(
    session.fetch(tree, f),
    (e: unknown) => e instanceof PathKindError && e.reason === 'not-a-directory' && e.side === 'local',
  );
  await assert.rejects(session.copy(f, join(dir, 'n'.repeat(300))), (e: unknown) => e instanceof InvalidNameError);
  // the session is still usable after every failure
  const ok = await session.copy(f, join(dir, 'after-errors.txt'));
  assert.equal(ok.files.length, 1);
});
