/** The fan-out engine (src/client/fanout.ts) and the CLI host list (src/cli/hosts.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fanout, AbortError, TimeoutError, InvalidArgumentError, type FanoutEvent } from '../../src/index.js';
import { parseHostList, isHostList } from '../../src/cli/hosts.js';
import { LineSplitter, FanoutPrinter, MAX_LINE } from '../../src/cli/fanout-output.js';

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${i}`);
async function collectAll<D, R>(it: AsyncIterable<FanoutEvent<D, R>>): Promise<FanoutEvent<D, R>[]> {
  const out: FanoutEvent<D, R>[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('fanout: every host runs once, never more than throttle at a time, events in per-host order', async () => {
  let inFlight = 0;
  let peak = 0;
  const ran: string[] = [];
  const evs = await collectAll(
    fanout(
      hosts(40),
      async (h, ctx) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        ran.push(h);
        await ctx.emit(`${h}:1`);
        await tick(2);
        await ctx.emit(`${h}:2`);
        inFlight--;
        return h.length;
      },
      { throttle: 7 },
    ),
  );
  assert.equal(peak, 7);
  assert.deepEqual([...ran].sort(), hosts(40).sort());
  for (const h of hosts(40)) {
    const mine = evs.filter((e) => e.host === h).map((e) => (e.type === 'data' ? e.data : e.type));
    assert.deepEqual(mine, ['start', `${h}:1`, `${h}:2`, 'done']);
  }
});

test('fanout: a failing host and a hung host do not hold back the others; the deadline ends the hung one', async () => {
  const evs = await collectAll(
    fanout(
      ['ok1', 'bad', 'hang', 'ok2'],
      async (h, ctx) => {
        if (h === 'bad') throw new InvalidArgumentError('no such host');
        if (h === 'hang') await new Promise(() => undefined); // ignores its signal on purpose
        await ctx.emit(h);
        return 0;
      },
      { throttle: 2, timeoutMs: 200 },
    ),
  );
  const end = (h: string) => evs.find((e) => e.host === h && (e.type === 'done' || e.type === 'error'))!;
  assert.equal(end('ok1').type, 'done');
  assert.equal(end('ok2').type, 'done');
  const bad = end('bad');
  assert.equal(bad.type, 'error');
  assert.ok(bad.type === 'error' && bad.error instanceof InvalidArgumentError);
  const hang = end('hang');
  assert.ok(hang.type === 'error' && hang.error instanceof TimeoutError, String(hang.type === 'error' && hang.error));
  // ok2 started while hang was still hung (throttle 2): it finished before hang's deadline
  assert.ok(evs.indexOf(end('ok2')) < evs.indexOf(hang));
});

test('fanout: the per-host signal aborts on the deadline', async () => {
  let sawAbort = false;
  const evs = await collectAll(
    fanout(
      ['a'],
      (_h, ctx) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => {
            sawAbort = true;
            reject(ctx.signal.reason);
          });
        }),
      { timeoutMs: 50 },
    ),
  );
  assert.ok(sawAbort);
  assert.ok(evs[1]!.type === 'error' && evs[1]!.error instanceof TimeoutError);
});

test('fanout: memory is bounded: a slow consumer makes emit() wait (at most bufferSize undelivered events)', async () => {
  let emitted = 0;
  const it = fanout(
    hosts(5),
    async (_h, ctx) => {
      for (let i = 0; i < 1000; i++) {
        await ctx.emit(i);
        emitted++;
      }
      return 0;
    },
    { throttle: 5, bufferSize: 16 },
  )[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.done, false);
  await tick(50);
  // producers stopped at the buffer: 5 hosts x 1000 items were not all produced
  assert.ok(emitted <= 16 + 5 + 5, `emitted ${emitted} while nobody read`);
  let n = 1;
  for (let r = await it.next(); !r.done; r = await it.next()) n++;
  assert.equal(emitted, 5000);
  assert.equal(n, 5 * (1000 + 2));
});

test("fanout: the caller's signal aborts running hosts and reports the hosts that never started", async () => {
  const ac = new AbortController();
  const started: string[] = [];
  const p = collectAll(
    fanout(
      hosts(10),
      (h, ctx) => {
        started.push(h);
        return new Promise((_, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason)));
      },
      { throttle: 3, signal: ac.signal },
    ),
  );
  await tick(20);
  ac.abort();
  const evs = await p;
  assert.equal(started.length, 3);
  const errors = evs.filter((e) => e.type === 'error');
  assert.equal(errors.length, 10);
  assert.ok(errors.every((e) => e.type === 'error' && e.error instanceof AbortError));
});

test('fanout: breaking out of the loop aborts the running hosts and starts no more', async () => {
  let aborted = 0;
  let started = 0;
  for await (const ev of fanout(
    hosts(20),
    (_h, ctx) => {
      started++;
      return new Promise((_, rej) =>
        ctx.signal.addEventListener('abort', () => {
          aborted++;
          rej(ctx.signal.reason);
        }),
      );
    },
    { throttle: 4 },
  )) {
    if (ev.type === 'start') break;
  }
  await tick(10);
  assert.equal(started, 4);
  assert.equal(aborted, 4);
});

test('fanout: throttle must be a positive integer', () => {
  assert.throws(() => fanout(['a'], async () => 0, { throttle: 0 }), RangeError);
});

test('host list: a,b,c, @file with comments and ports, mixes, duplicates, errors', () => {
  const files: Record<string, string> = {
    'hosts.txt': '# fleet\nweb1\nweb2:5986   # tls\n\n  [::1]:5985\nweb1\n',
    'empty.txt': '# none\n',
  };
  const read = (p: string) => {
    if (!(p in files)) throw new Error('ENOENT');
    return files[p]!;
  };
  assert.deepEqual(parseHostList('a,b:1,c', read), ['a', 'b:1', 'c']);
  const warnings: string[] = [];
  assert.deepEqual(
    parseHostList('@hosts.txt', read, (m) => warnings.push(m)),
    ['web1', 'web2:5986', '[::1]:5985'],
  );
  assert.deepEqual(warnings, ['hosts.txt:6: web1 is listed more than once: it runs once']);
  assert.deepEqual(
    parseHostList('x,@hosts.txt', read, () => undefined),
    ['x', 'web1', 'web2:5986', '[::1]:5985'],
  );
  assert.throws(() => parseHostList('@empty.txt', read), /no hosts/);
  assert.throws(() => parseHostList('@missing.txt', read), /cannot read the host list missing\.txt/);
  assert.throws(() => parseHostList('a,b:99999', read), /bad host/);
  assert.throws(() => parseHostList('@', read), /file name/);
  assert.ok(isHostList('a,b'));
  assert.ok(isHostList('@f'));
  assert.ok(!isHostList('a'));
  assert.ok(!isHostList('a:5985'));
});

test('output: lines split on any chunk boundary, UTF-8 safe, long lines cut; prefixes, JSON and the table', () => {
  const text = 'héllo\r\nwörld ✓\nlast';
  const bytes = Buffer.from(text);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const sp = new LineSplitter();
    const lines = [...sp.push(bytes.subarray(0, cut)), ...sp.push(bytes.subarray(cut)), ...sp.end()];
    assert.deepEqual(lines, ['héllo', 'wörld ✓', 'last'], `cut at ${cut}`);
  }
  const long = new LineSplitter().push(Buffer.alloc(MAX_LINE * 2 + 5, 0x61));
  assert.equal(long.length, 2);
  assert.equal(long[0]!.length, MAX_LINE);

  const out: string[] = [];
  const err: string[] = [];
  const sink = {
    stdout: (s: string) => {
      out.push(s);
    },
    stderr: (s: string) => {
      err.push(s);
    },
  };
  const p = new FanoutPrinter(['a', 'b', 'c'], { json: false, group: false, live: false }, sink);
  p.line('a', 'stdout', 'one');
  p.line('b', 'stderr', 'two');
  p.finish('a', { kind: 'exit', exitCode: 0 });
  p.finish('b', { kind: 'exit', exitCode: 3 });
  p.finish('c', { kind: 'error', code: 'CONNECT', message: 'refused' });
  assert.equal(p.close(), 1);
  assert.deepEqual(out, ['[a] one\n']);
  assert.equal(err[0], '[b] two\n');
  assert.equal(err[1], '[c] winrm-ts: refused\n');
  assert.match(err.at(-1)!, /^a +exit 0\nb +exit 3\nc +ERROR CONNECT: refused\n.*1 of 3 hosts succeeded, 2 failed/m);

  const j: string[] = [];
  const pj = new FanoutPrinter(
    ['a'],
    { json: true, group: true, live: false },
    {
      stdout: (s) => {
        j.push(s);
      },
      stderr: () => undefined,
    },
  );
  pj.line('a', 'stdout', 'x');
  pj.object('a', { n: 1 }, undefined);
  pj.object('a', 5, undefined);
  assert.equal(j.length, 0, 'grouped: held until the host finishes');
  pj.finish('a', { kind: 'error', code: 'LOST', message: 'worker died', unknown: true });
  assert.deepEqual(
    j
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
    [
      { PSComputerName: 'a', stream: 'stdout', line: 'x' },
      { n: 1, PSComputerName: 'a' },
      { PSComputerName: 'a', value: 5 },
      { PSComputerName: 'a', error: { code: 'LOST', message: 'worker died' }, outcome: 'unknown' },
    ],
  );
  assert.equal(pj.close(), 1);
});

test('serve --listen repeated: addresses (default, duplicates once), names NAME-PORT, a busy port retried then reported', async () => {
  const { listenAddresses, endpointName, serveAll, DEFAULT_LISTEN } = await import('../../src/cli/fanout-serve.js');
  const warned: string[] = [];
  assert.deepEqual(
    listenAddresses(undefined, (m) => warned.push(m)),
    [DEFAULT_LISTEN],
  );
  assert.deepEqual(
    listenAddresses(['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:1'], (m) => warned.push(m)),
    ['127.0.0.1:1', '127.0.0.1:2'],
  );
  assert.deepEqual(warned, ['--listen 127.0.0.1:1 is given more than once: listening on it once']);
  assert.equal(endpointName('localhost', '127.0.0.1:5985', 1), 'localhost');
  assert.equal(endpointName('localhost', '127.0.0.1:5985', 3), 'localhost-5985');
  assert.equal(endpointName('fleet', '[::1]:6000', 2), 'fleet-6000');
  const closed: string[] = [];
  const fake = (l: string) => ({
    url: l,
    port: 0,
    host: '',
    server: undefined as never,
    accounts: { summary: [], rootLogons: false } as never,
    limits: {} as never,
    stats: () => ({ connections: 0, shells: 0, commands: 0, stdinBufferedBytes: 0 }),
    close: async () => {
      closed.push(l);
    },
  });
  let tries = 0;
  const started = await serveAll(
    ['a:1', 'b:2'],
    'n',
    async (l, name) => {
      if (l === 'b:2' && tries++ < 2) throw new InvalidArgumentError('cannot listen on b:2: EADDRINUSE');
      return { ...fake(l), url: name };
    },
    2000,
  );
  assert.deepEqual(
    started.map((h) => h.url),
    ['n-1', 'n-2'],
  );
  await assert.rejects(
    serveAll(['a:1', 'c:3'], 'n', async (l) => {
      if (l === 'c:3') throw new InvalidArgumentError('cannot listen on c:3: EACCES');
      return fake(l);
    }),
    /EACCES/,
  );
  assert.deepEqual(closed, ['a:1'], 'the endpoints already started are closed when a later one fails');
});
