/**
 * File transfer, side by side in one run on one `winrm-ts serve --auth negotiate` endpoint (NTLM with message
 * encryption, real pwsh 7.6.9 behind it): `winrm-ts copy` / `fetch` against pypsrp's Client.copy / Client.fetch
 * (same file, same endpoint, each a fresh process that opens its own runspace pool), and the limit: a raw loopback
 * HTTP upload of the same bytes (Node http, body streamed to a file). Also the client's peak RSS (`/usr/bin/time`).
 *
 *   node --import tsx bench/transfer.ts [--mb 32] [--rss-mb 0] [--peer yes|no] [--out DIR]
 *
 * Over SSH (when sshd and pwsh are here, as root; --ssh no skips it): a private OpenSSH sshd with the `powershell`
 * subsystem (the test peer of test/peers), `winrm-ts copy/fetch --ssh` (a fresh CLI process each, Node start-up
 * included) against real pwsh's `Copy-Item -ToSession / -FromSession` over the same sshd (timed inside pwsh:
 * New-PSSession + Copy-Item + Remove-PSSession, pwsh's own start-up not counted).
 *
 * --rss-mb N also copies and fetches an N MiB file and reports the client's peak RSS and the peak RSS of the
 * endpoint's pwsh (sampled from /proc every 200 ms) against the same for the --mb file, so growth with the file
 * size shows. --peer no skips pypsrp (its fetch reads the whole file into memory and takes minutes when loaded).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chmodSync, mkdirSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { arg, CLI_ARGS, outDir, PASSWORD, ROOT, startServe, USER } from './lib.js';
import { sshdPresent, startSshd } from '../test/peers/fixtures/sshd/sshd.js';

const MB = Number(arg('--mb', '32'));
const RSS_MB = Number(arg('--rss-mb', '0'));
const PEER = arg('--peer', 'yes') !== 'no';
const SSH = arg('--ssh', 'yes') !== 'no';
const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bench-transfer-'));
const SHARED =
  process.env.WINRM_TS_SHARED ??
  [join(ROOT, '..', 'shared'), join(ROOT, '..', '..', 'shared')].find((d) => existsSync(join(d, 'peers', 'python'))) ??
  join(ROOT, '..', 'shared');
const PY = join(SHARED, 'peers', 'python');
const CLI = CLI_ARGS;

function randomFile(path: string, mb: number): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < mb; i++) {
      const b = randomBytes(1 << 20);
      h.update(b);
      writeSync(fd, b);
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Run a command under /usr/bin/time; seconds and peak RSS (KB). */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): { s: number; rssKb: number } {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', join(dir, 'rss'), cmd, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 1 << 26,
  });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} failed: ${r.stderr?.toString().slice(-400)}`);
  return { s, rssKb: Number(readFileSync(join(dir, 'rss'), 'utf8').trim().split('\n').pop()) };
}

/** Peak RSS (KB) of the pwsh processes below `root` while `fn` runs (sampled from /proc every 200 ms). */
function descendants(root: number): number[] {
  const kids = new Map<number, number[]>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const st = readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(p)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    const p = todo.pop()!;
    for (const k of kids.get(p) ?? []) {
      out.push(k);
      todo.push(k);
    }
  }
  return out;
}
function pwshRssKb(root: number): number {
  let sum = 0;
  for (const p of descendants(root)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      if (!/^Name:\s*(pwsh|dotnet)/m.test(status)) continue;
      sum += Number(/^VmRSS:\s*(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return sum;
}
/** timed(), asynchronously, sampling the peak RSS of the pwsh processes below `root` (the endpoint) meanwhile. */
async function timedWithPwshPeak(root: number, cmd: string, args: string[]): Promise<{ s: number; rssKb: number; pwshPeakKb: number }> {
  let peak = pwshRssKb(root);
  const timer = setInterval(() => {
    peak = Math.max(peak, pwshRssKb(root));
  }, 200);
  const t0 = performance.now();
  try {
    const child = spawn('/usr/bin/time', ['-f', '%M', '-o', join(dir, 'rss'), cmd, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-400);
    });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    if (code !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} failed: ${err}`);
  } finally {
    clearInterval(timer);
  }
  return {
    s: (performance.now() - t0) / 1000,
    rssKb: Number(readFileSync(join(dir, 'rss'), 'utf8').trim().split('\n').pop()),
    pwshPeakKb: peak,
  };
}

/** Raw loopback HTTP upload: MB/s of streaming the file's bytes into a file through Node's http (no auth, no XML). */
async function rawHttpUpload(src: string, mb: number): Promise<number> {
  const srv = http.createServer(async (req, res) => {
    await pipeline(req, createWriteStream(join(dir, 'raw.out')));
    res.end('ok');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/upload' }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    createReadStream(src).pipe(req);
  });
  const s = (performance.now() - t0) / 1000;
  srv.close();
  return mb / s;
}

const serve = await startServe(dir, ['--auth', 'negotiate']);
const conn = ['-H', `127.0.0.1:${serve.port}`, '-u', USER, '-p', PASSWORD];
const pyEnv = { ...process.env, PYTHONPATH: [join(PY, 'pypsrp'), join(PY, 'pyspnego'), join(PY, 'requests-credssp')].join(':') };
const py = (op: string, a: string, b: string) =>
  timed(
    '/usr/bin/python3',
    [
      '-c',
      `import sys; from pypsrp.client import Client; c=Client('127.0.0.1', port=${serve.port}, username='EXAMPLE\\\\alice', ` +
        `password='${PASSWORD}', ssl=False, auth='negotiate'); getattr(c, sys.argv[1])(sys.argv[2], sys.argv[3])`,
      op,
      a,
      b,
    ],
    pyEnv,
  );

const rows: Array<{ measure: string; ours: number | string; peer: number | string; ratio?: number }> = [];
const json: Record<string, unknown> = { mb: MB, date: new Date().toISOString() };
try {
  const src = join(dir, 'f.bin');
  const want = randomFile(src, MB);
  const hasPy = existsSync(join(PY, 'pypsrp')) && existsSync('/usr/bin/python3');

  const up = await timedWithPwshPeak(serve.child.pid!, process.execPath, [...CLI, 'copy', ...conn, src, join(dir, 'r1.bin')]);
  const dn = await timedWithPwshPeak(serve.child.pid!, process.execPath, [
    ...CLI,
    'fetch',
    ...conn,
    join(dir, 'r1.bin'),
    join(dir, 'd1.bin'),
  ]);
  if (sha(join(dir, 'd1.bin')) !== want) throw new Error('winrm-ts copy+fetch changed the bytes');
  json.ours = {
    copyS: up.s,
    fetchS: dn.s,
    copyRssKb: up.rssKb,
    fetchRssKb: dn.rssKb,
    copyPwshPeakKb: up.pwshPeakKb,
    fetchPwshPeakKb: dn.pwshPeakKb,
  };
  const raw = await rawHttpUpload(src, MB);
  json.rawHttpMBps = raw;

  let pyUp: { s: number } | undefined;
  let pyDn: { s: number } | undefined;
  if (hasPy && PEER) {
    pyUp = py('copy', src, join(dir, 'r2.bin'));
    pyDn = py('fetch', join(dir, 'r2.bin'), join(dir, 'd2.bin'));
    if (sha(join(dir, 'd2.bin')) !== want) throw new Error('pypsrp copy+fetch changed the bytes');
    json.pypsrp = { copyS: pyUp.s, fetchS: pyDn.s };
  }
  const mbps = (s: number) => Number((MB / s).toFixed(2));
  rows.push({
    measure: `copy ${MB} MiB (Negotiate, encrypted), MB/s`,
    ours: mbps(up.s),
    peer: pyUp ? `pypsrp ${mbps(pyUp.s)}` : 'n/a',
    ratio: pyUp ? Number((pyUp.s / up.s).toFixed(2)) : undefined,
  });
  rows.push({
    measure: `fetch ${MB} MiB, MB/s`,
    ours: mbps(dn.s),
    peer: pyDn ? `pypsrp ${mbps(pyDn.s)}` : 'n/a',
    ratio: pyDn ? Number((pyDn.s / dn.s).toFixed(2)) : undefined,
  });
  rows.push({
    measure: 'copy vs raw loopback HTTP upload of the same bytes',
    ours: `${((mbps(up.s) / raw) * 100).toFixed(1)} %`,
    peer: `raw ${raw.toFixed(0)} MB/s`,
  });
  rows.push({
    measure: `client peak RSS, copy / fetch ${MB} MiB`,
    ours: `${Math.round(up.rssKb / 1024)} / ${Math.round(dn.rssKb / 1024)} MB`,
    peer: '',
  });
  rows.push({
    measure: `endpoint pwsh peak RSS, copy / fetch ${MB} MiB`,
    ours: `${Math.round(up.pwshPeakKb / 1024)} / ${Math.round(dn.pwshPeakKb / 1024)} MB`,
    peer: '',
  });

  if (SSH && sshdPresent()) {
    const peer = await startSshd();
    try {
      chmodSync(dir, 0o755);
      const rdir = join(dir, 'ssh-remote');
      mkdirSync(rdir);
      chmodSync(rdir, 0o777); // the sshd test user writes here
      chmodSync(src, 0o644);
      const sshConn = [
        '--ssh',
        '-H',
        `127.0.0.1:${peer.port}`,
        '-u',
        peer.user,
        '--ssh-key',
        peer.keyPath,
        '--known-hosts',
        peer.knownHosts,
      ];
      const su = timed(process.execPath, [...CLI, 'copy', ...sshConn, src, join(rdir, 'ours.bin')]);
      const sd = timed(process.execPath, [...CLI, 'fetch', ...sshConn, join(rdir, 'ours.bin'), join(dir, 'ssh-ours.bin')]);
      if (sha(join(dir, 'ssh-ours.bin')) !== want) throw new Error('winrm-ts copy+fetch over SSH changed the bytes');
      const ps1 = join(dir, 'copyitem.ps1');
      writeFileSync(
        ps1,
        [
          'param($P, $U, $K, $KH, $Src, $Dst, $Back)',
          "$ErrorActionPreference = 'Stop'",
          "$o = @{ UserKnownHostsFile = $KH; StrictHostKeyChecking = 'yes'; BatchMode = 'yes' }",
          '$sw = [Diagnostics.Stopwatch]::StartNew()',
          '$s = New-PSSession -HostName 127.0.0.1 -Port $P -UserName $U -KeyFilePath $K -Options $o',
          'Copy-Item -LiteralPath $Src -Destination $Dst -ToSession $s; Remove-PSSession $s',
          '$up = $sw.Elapsed.TotalSeconds; $sw.Restart()',
          '$s = New-PSSession -HostName 127.0.0.1 -Port $P -UserName $U -KeyFilePath $K -Options $o',
          'Copy-Item -LiteralPath $Dst -Destination $Back -FromSession $s; Remove-PSSession $s',
          "'{0} {1}' -f $up, $sw.Elapsed.TotalSeconds",
        ].join('\n'),
      );
      const pr = spawnSync(
        peer.pwsh,
        [
          '-NoLogo',
          '-NoProfile',
          '-NonInteractive',
          '-File',
          ps1,
          String(peer.port),
          peer.user,
          peer.keyPath,
          peer.knownHosts,
          src,
          join(rdir, 'pwsh.bin'),
          join(dir, 'ssh-pwsh.bin'),
        ],
        { encoding: 'utf8', maxBuffer: 1 << 24 },
      );
      if (pr.status !== 0) throw new Error(`pwsh Copy-Item failed: ${pr.stderr.slice(-400)}`);
      const [pu, pd] = pr.stdout.trim().split(/\s+/).slice(-2).map(Number) as [number, number];
      if (sha(join(dir, 'ssh-pwsh.bin')) !== want) throw new Error('pwsh Copy-Item changed the bytes');
      json.ssh = { oursCopyS: su.s, oursFetchS: sd.s, pwshCopyS: pu, pwshFetchS: pd };
      rows.push({
        measure: `copy ${MB} MiB over SSH (sshd, powershell subsystem), MB/s`,
        ours: mbps(su.s),
        peer: `pwsh Copy-Item -ToSession ${mbps(pu)}`,
        ratio: Number((pu / su.s).toFixed(2)),
      });
      rows.push({
        measure: `fetch ${MB} MiB over SSH, MB/s`,
        ours: mbps(sd.s),
        peer: `pwsh Copy-Item -FromSession ${mbps(pd)}`,
        ratio: Number((pd / sd.s).toFixed(2)),
      });
      rows.push({
        measure: 'copy over SSH vs raw loopback HTTP upload of the same bytes',
        ours: `${((mbps(su.s) / raw) * 100).toFixed(1)} %`,
        peer: `raw ${raw.toFixed(0)} MB/s`,
      });
    } finally {
      await peer.stop();
    }
  }

  if (RSS_MB > 0) {
    const big = join(dir, 'big.bin');
    randomFile(big, RSS_MB);
    const bu = await timedWithPwshPeak(serve.child.pid!, process.execPath, [...CLI, 'copy', ...conn, big, join(dir, 'big.r')]);
    rmSync(big);
    const bd = await timedWithPwshPeak(serve.child.pid!, process.execPath, [
      ...CLI,
      'fetch',
      ...conn,
      join(dir, 'big.r'),
      join(dir, 'big.d'),
    ]);
    json.big = {
      mb: RSS_MB,
      copyS: bu.s,
      fetchS: bd.s,
      copyRssKb: bu.rssKb,
      fetchRssKb: bd.rssKb,
      copyPwshPeakKb: bu.pwshPeakKb,
      fetchPwshPeakKb: bd.pwshPeakKb,
    };
    rows.push({
      measure: `client peak RSS, copy / fetch ${RSS_MB} MiB`,
      ours: `${Math.round(bu.rssKb / 1024)} / ${Math.round(bd.rssKb / 1024)} MB`,
      peer: `${(RSS_MB / bu.s).toFixed(1)} / ${(RSS_MB / bd.s).toFixed(1)} MB/s`,
    });
    rows.push({
      measure: `endpoint pwsh peak RSS, copy / fetch ${RSS_MB} MiB`,
      ours: `${Math.round(bu.pwshPeakKb / 1024)} / ${Math.round(bd.pwshPeakKb / 1024)} MB`,
      peer: '',
    });
  }
} finally {
  serve.child.kill();
  rmSync(dir, { recursive: true, force: true });
}

const day = new Date().toISOString().slice(0, 10);
const md = [
  `# transfer (${day})`,
  '',
  `One \`winrm-ts serve --auth negotiate\` endpoint (NTLM, message encryption, real pwsh behind it), ${MB} MiB of random bytes, ` +
    `each client a fresh process (runspace pool open included).`,
  '',
  '| measure | winrm-ts | peer | ratio (peer time / ours) |',
  '|---|---|---|---|',
  ...rows.map((r) => `| ${r.measure} | ${r.ours} | ${r.peer} | ${r.ratio ?? ''} |`),
  '',
].join('\n');
mkdirSync(outDir(), { recursive: true });
writeFileSync(join(outDir(), `${day}-transfer.md`), md);
writeFileSync(join(outDir(), `${day}-transfer.json`), JSON.stringify({ ...json, rows }, null, 2));
console.log(md);
process.exit(0);
