// The transfer's sans-IO pieces: remote failure texts -> typed errors, local errno -> typed errors, the progress
// tracker's rate / ETA with an injected clock, the chunk size fitted to an envelope.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChecksumMismatchError,
  DiskFullError,
  FileAccessDeniedError,
  InvalidNameError,
  PathKindError,
  PathNotFoundError,
  SourceChangedError,
  TransferError,
  ProgressTracker,
  chunkSizeFor,
  type TransferEvent,
  type TransferSession,
} from '../../src/index.js';
import { localTransferError, remoteTransferError } from '../../src/transfer/errors.js';
import { payloadSizeFor } from '../../src/remoting/wsman-pool.js';
import { serialize } from '../../src/clixml/index.js';

test('remote WTX1 failure texts become typed errors naming the side and path, with a hint', () => {
  const cases: Array<[string, new (...a: never[]) => TransferError, string]> = [
    ["WTX1|not-found|C:\\x\\y.txt|Could not find a part of the path 'C:\\x\\y.txt'.", PathNotFoundError, 'not-found'],
    ['WTX1|access-denied|/sys/x|Access to the path is denied.', FileAccessDeniedError, 'access-denied'],
    ['WTX1|disk-full|/data/f|No space left on device', DiskFullError, 'disk-full'],
    ['WTX1|invalid-name|C:\\a<b|The filename, directory name, or volume label syntax is incorrect.', InvalidNameError, 'invalid-name'],
    ['WTX1|is-directory|/tmp/d|the target is a directory', PathKindError, 'is-directory'],
    ['WTX1|not-a-directory|/tmp/f|a file is in the way', PathKindError, 'not-a-directory'],
    ['WTX1|changed|/tmp/f|the file shrank while it was read', SourceChangedError, 'changed'],
  ];
  for (const [text, cls, reason] of cases) {
    const e = remoteTransferError(`At line:12 char:3\n${text}\r\n+ CategoryInfo ...`)!;
    assert.ok(e instanceof cls, `${reason}: ${e?.constructor.name}`);
    assert.equal(e.reason, reason);
    assert.equal(e.side, 'remote');
    assert.ok(e.message.includes(e.path) && e.path.length > 0, e.message);
    assert.ok(!/CategoryInfo/.test(e.message), 'only the first line of the remote message');
    assert.match(e.code, /^WINRM_ERR_TRANSFER_/);
  }
  const c = remoteTransferError(`WTX1|checksum|/r/f|remote SHA-256 ${'a'.repeat(64)}, local ${'b'.repeat(64)}`)!;
  assert.ok(c instanceof ChecksumMismatchError);
  assert.equal((c as ChecksumMismatchError).actual, 'a'.repeat(64));
  assert.equal((c as ChecksumMismatchError).expected, 'b'.repeat(64));
  assert.equal(remoteTransferError('Something else went wrong'), undefined);
  assert.ok(remoteTransferError('WTX1|bogus|p|m') instanceof TransferError, 'an unknown reason is an I/O error');
});

test('local errno codes become typed errors about the local path; others pass through', () => {
  const mk = (code: string) => Object.assign(new Error(`${code}: boom, open '/x'`), { code });
  assert.ok(localTransferError(mk('ENOENT'), '/x') instanceof PathNotFoundError);
  assert.ok(localTransferError(mk('EACCES'), '/x') instanceof FileAccessDeniedError);
  assert.ok(localTransferError(mk('ENOSPC'), '/x') instanceof DiskFullError);
  assert.ok(localTransferError(mk('ENAMETOOLONG'), '/x') instanceof InvalidNameError);
  const k = localTransferError(mk('EISDIR'), '/x') as PathKindError;
  assert.ok(k instanceof PathKindError && k.reason === 'is-directory' && k.side === 'local');
  const other = new Error('weird');
  assert.equal(localTransferError(other, '/x'), other);
});

test('progress: rate over the bytes moved (resumed bytes excluded), ETA from it, events throttled', () => {
  let now = 0;
  const evs: TransferEvent[] = [];
  const p = new ProgressTracker(
    'copy',
    10_000_000,
    1,
    (e) => evs.push(e),
    () => now,
    100,
  );
  p.skip(2_000_000); // resumed
  for (let i = 0; i < 20; i++) {
    now += 100;
    p.add(100_000);
  } // 2 MB in 2 s
  const last = evs.at(-1) as Extract<TransferEvent, { type: 'progress' }>;
  assert.equal(last.doneBytes, 4_000_000);
  assert.equal(last.bytesPerSecond, 1_000_000);
  assert.equal(last.etaSeconds, 6);
  assert.equal(p.movedBytes, 2_000_000);
  const before = evs.length;
  p.add(1);
  p.add(1); // same instant: throttled
  assert.equal(evs.length, before);
  const unknown = new ProgressTracker(
    'fetch',
    undefined,
    1,
    (e) => evs.push(e),
    () => now,
  );
  unknown.tick();
  assert.equal((evs.at(-1) as { etaSeconds?: number }).etaSeconds, undefined);
});

test('chunk size: one chunk plus its PSRP and CLIXML wrapping fits the WinRM envelope; byte streams get 256 KiB', () => {
  for (const env of [153600, 512000, 8 * 1024 * 1024]) {
    const payload = payloadSizeFor(env);
    const s = { transport: { kind: 'wsman', runspacePool: { payloadSize: payload } } } as unknown as TransferSession;
    const chunk = chunkSizeFor(s);
    const message = 21 + 40 + Buffer.byteLength(serialize(new Uint8Array(chunk)));
    assert.ok(message <= payload, `${env}: ${message} <= ${payload}`);
    assert.ok(message > payload - 400, `${env}: the envelope is used (${payload - message} bytes spare)`);
  }
  assert.equal(chunkSizeFor({ transport: { kind: 'process' } } as unknown as TransferSession), 256 * 1024);
  assert.equal(chunkSizeFor({ transport: { kind: 'ssh' } } as unknown as TransferSession), 1024 * 1024);
});
