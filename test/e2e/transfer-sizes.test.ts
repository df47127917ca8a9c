// copy / fetch end to end (Session.copy / fetch -> `serve` -> real pwsh): 0 bytes, 1 byte, an exact chunk multiple, 64 MiB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chunkSizeFor, PARTIAL_SUFFIX, type TransferEvent } from '../../src/index.js';
import { useEndpoint, skip, session, dir, randomFile, fileSha } from './transfer-fixture.js';

useEndpoint();

test(
  'copy and fetch: 0 bytes, 1 byte, an exact chunk multiple, 64 MiB — same bytes, SHA-256 reported, no partial file left',
  { skip },
  async () => {
    const chunk = chunkSizeFor(session);
    assert.ok(chunk > 100_000 && chunk < 400_000, `a chunk fits one 500 KiB envelope (${chunk})`);
    for (const [name, size] of [
      ['zero', 0],
      ['one', 1],
      ['chunks', chunk * 3],
      ['big', 64 * 1024 * 1024],
    ] as const) {
      const src = join(dir, `${name}.src`);
      const remote = join(dir, `${name}.remote`);
      const back = join(dir, `${name}.back`);
      const want = randomFile(src, size);
      const events: TransferEvent[] = [];
      const up = await session.copy(src, remote, { onProgress: (e) => events.push(e) });
      assert.equal(up.files.length, 1);
      assert.equal(up.files[0]!.sha256, want, `${name}: the remote SHA-256 is the local one`);
      assert.equal(up.files[0]!.remote, remote);
      assert.equal(up.bytes, size);
      assert.equal(fileSha(remote), want, `${name}: the remote file has the bytes`);
      assert.ok(events.some((e) => e.type === 'file-done'));
      if (size === 64 * 1024 * 1024) {
        const p = events.filter((e) => e.type === 'progress');
        assert.ok(p.length > 3, 'progress events along the way');
        assert.equal((p[p.length - 1] as { doneBytes: number }).doneBytes, size);
      }
      const down = await session.fetch(remote, back);
      assert.equal(down.files[0]!.sha256, want);
      assert.equal(fileSha(back), want, `${name}: fetched back unchanged`);
      assert.equal(statSync(back).size, size);
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.endsWith(PARTIAL_SUFFIX)),
        [],
        'no partial files left behind',
      );
      for (const f of [src, remote, back]) rmSync(f);
    }
  },
);
