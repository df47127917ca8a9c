#!/usr/bin/env node
// Fan-out at scale: one `winrm-ts serve` process listening on N ports (one "host" each), and the built CLI
// `winrm-ts run -H @hosts.txt --throttle T --json -- CMD` against them, measured from outside:
//   - hosts/s with a short command (echo pong): the fan-out's rate (NTLM handshake + encrypted WinRS per host);
//   - client peak RSS (/usr/bin/time %M) with a command that holds every slot (sleep S; echo pong), so T hosts are
//     in flight at once; MB per in-flight host = (peak RSS at T - peak RSS at T=1) / (T - 1).
// Needs `npm run build` (runs dist/). Usage: node bench/fanout.mjs [--hosts 1000] [--throttle 200] [--out DIR]
// Writes bench/results/<date>-fanout.md|json.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir, cpus, totalmem, loadavg } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/src/cli/main.js');
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};
const HOSTS = Number(arg('--hosts', '1000'));
const THROTTLE = Number(arg('--throttle', '200'));
const OUT = arg('--out', join(ROOT, 'bench', 'results'));
if (!existsSync(CLI)) {
  console.error('bench fanout: run `npm run build` first (it measures dist/)');
  process.exit(1);
}

/** N distinct free ports: all held open at once, then released (listen(0) one at a time can repeat a port). */
async function freePorts(n) {
  const servers = [];
  for (let i = 0; i < n; i++)
    servers.push(
      await new Promise((r) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => r(s));
      }),
    );
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bench-fanout-'));
writeFileSync(join(dir, 'users'), 'EXAMPLE\\alice:Passw0rd!\n', { mode: 0o600 });
const ports = await freePorts(HOSTS);
const listen = ports.flatMap((p) => ['--listen', `127.0.0.1:${p}`]);
const serve = spawn(process.execPath, [CLI, 'serve', ...listen, '--users', join(dir, 'users'), '--auth', 'negotiate', '--quiet'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
await new Promise((resolve, reject) => {
  let n = 0;
  let buf = '';
  serve.stdout.setEncoding('utf8').on('data', (d) => {
    buf += d;
    const m = buf.match(/listening on/g);
    n = m ? m.length : 0;
    if (n >= HOSTS) resolve();
    if (buf.length > 1e6) buf = buf.slice(-1000);
  });
  serve.once('exit', (c) => reject(new Error(`serve exited ${c}`)));
});
const serveRss = () => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${serve.pid}/status`, 'utf8'))[1]) / 1024;
  } catch {
    return NaN;
  }
};
console.log(`serve: ${HOSTS} ports in one process (RSS ${serveRss().toFixed(0)} MB)`);

function runFanout(hosts, throttle, command) {
  const file = join(dir, `hosts-${hosts}.txt`);
  writeFileSync(
    file,
    ports
      .slice(0, hosts)
      .map((p) => `127.0.0.1:${p}`)
      .join('\n') + '\n',
  );
  const t0 = performance.now();
  const r = spawnSync(
    '/usr/bin/time',
    [
      '-f',
      '%M %U %S',
      '-o',
      join(dir, 'time'),
      process.execPath,
      CLI,
      'run',
      '-H',
      `@${file}`,
      '--throttle',
      String(throttle),
      '--json',
      '-u',
      'EXAMPLE\\alice',
      '--',
      'sh',
      '-c',
      command,
    ],
    { env: { ...process.env, WINRM_PASSWORD: 'Passw0rd!' }, maxBuffer: 1 << 28, encoding: 'utf8' },
  );
  const secs = (performance.now() - t0) / 1000;
  const [rssKb, user, sys] = readFileSync(join(dir, 'time'), 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
  const ok = new Set(
    r.stdout
      .split('\n')
      .filter((l) => l.includes('"exitCode":0'))
      .map((l) => JSON.parse(l).PSComputerName),
  ).size;
  const errors = {};
  for (const l of r.stdout.split('\n')) {
    if (!l.includes('"error"')) continue;
    const e = JSON.parse(l).error;
    errors[e.code] = (errors[e.code] ?? 0) + 1;
    if (!errors.first) errors.first = e.message;
  }
  return {
    hosts,
    throttle,
    command,
    secs,
    hostsPerSec: hosts / secs,
    rssMb: rssKb / 1024,
    cpuSecs: user + sys,
    ok,
    errors,
    exit: r.status,
  };
}

const rows = [];
const step = (label, res) => {
  rows.push({ label, ...res });
  console.log(
    `${label}: ${res.ok}/${res.hosts} ok, ${res.secs.toFixed(1)} s, ${res.hostsPerSec.toFixed(1)} hosts/s, client ` +
      `peak RSS ${res.rssMb.toFixed(0)} MB, client CPU ${res.cpuSecs.toFixed(1)} s${
        Object.keys(res.errors).length ? `, ` + `errors ${JSON.stringify(res.errors)}` : ''
      }`,
  );
  return res;
};
const hold = 'sleep 3; echo pong';
const base = step('T=1 (baseline), 3 hosts, holding', runFanout(3, 1, hold));
const heldK2 = step(`T=100, 200 hosts, holding`, runFanout(Math.min(200, HOSTS), 100, hold));
const held = step(`T=${THROTTLE}, ${HOSTS} hosts, holding`, runFanout(HOSTS, THROTTLE, hold));
step('T=100, 200 hosts, echo pong', runFanout(Math.min(200, HOSTS), 100, 'echo pong'));
step(`T=${THROTTLE}, ${HOSTS} hosts, echo pong`, runFanout(HOSTS, THROTTLE, 'echo pong'));
const perHost = (r) => (r.rssMb - base.rssMb) / (r.throttle - 1);
const serveMb = serveRss();
serve.kill('SIGTERM');

const date = new Date().toISOString().slice(0, 10);
const machine =
  `${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(1)} GB, ` +
  `Node ${process.version}, load average ${loadavg()[0].toFixed(1)} at the end`;
const json = {
  date,
  machine,
  hosts: HOSTS,
  throttle: THROTTLE,
  serveRssMb: serveMb,
  mbPerInFlightHost: { t100: perHost(heldK2), [`t${THROTTLE}`]: perHost(held) },
  rows,
};
mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, `${date}-fanout.json`), JSON.stringify(json, null, 2) + '\n');
const md =
  `# Fan-out bench (${date})

Machine: ${machine}. One \`winrm-ts serve\` process listening on ${HOSTS} ports (RSS ${serveMb.toFixed(0)} MB at the ` +
  `end), Negotiate (NTLM) with
message encryption; the client is the built CLI, \`winrm-ts run -H @hosts.txt --throttle T --json\`, measured from outside
(/usr/bin/time). Client and endpoint share the machine's cores, so hosts/s is bound by the CPU of both: read it as a floor.

| run | hosts ok | seconds | hosts/s | client peak RSS | client CPU s | errors |
|---|---|---|---|---|---|---|
${rows
  .map(
    (r) =>
      `| ${r.label} | ${r.ok}/${r.hosts} | ${r.secs.toFixed(1)} | ${r.hostsPerSec.toFixed(1)} | ${r.rssMb.toFixed(0)} ` +
      `MB | ${r.cpuSecs.toFixed(1)} | ${Object.entries(r.errors)
        .filter(([k]) => k !== 'first')
        .map(([k, n]) => `${k} ×${n}`)
        .join(', ')} |`,
  )
  .join('\n')}

MB per in-flight host (holding runs, (RSS − RSS at T=1) / (T − 1)): **${perHost(heldK2).toFixed(2)} MB** at T=100, ` +
  `**${perHost(held).toFixed(2)} MB** at T=${THROTTLE}.
`;
writeFileSync(join(OUT, `${date}-fanout.md`), md);
console.log(md);
process.exit(0);
