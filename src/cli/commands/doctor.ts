/**
 * `winrm-ts doctor -H HOST [connection flags] [--second-hop HOSTB] [--json]`: why does this not work? Runs the checks of
 * src/cli/doctor/checks.ts (reachability, HTTP/HTTPS, the listener, TLS, auth schemes, this client's side, the service
 * configuration, an authenticated whoami, the second hop) and prints each as ok / warning / FAILED with the cause and
 * the fix. Exits 1 when a check failed.
 * Many hosts (`-H a,b,c`, `-H @hosts.txt`, `--throttle N`): one report per host, printed whole as each host finishes
 * (with --json one report per line, with PSComputerName); the password is asked once; exit 1 when any host failed.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../errors.js';
import { fanout } from '../../client/fanout.js';
import { addConnectionOptions, askPassword, connectionFromOptions, type ConnectionFlags } from '../options.js';
import { hostFlags, isHostList, parseHostList } from '../hosts.js';
import { runDoctor, type Report } from '../doctor/checks.js';
import { renderCheck, renderHeader, renderSummary, useColour } from '../doctor/render.js';
import { endpointUrl } from '../../client/client.js';

type DoctorFlags = ConnectionFlags & { secondHop?: string; json?: boolean; throttle?: number };

export function register(program: Command): void {
  const cmd = program
    .command('doctor')
    .description('diagnose a WinRM connection: reachability, TLS, auth schemes, service configuration, whoami, the second hop');
  addConnectionOptions(cmd)
    .option(
      '--second-hop <host[:port]|https://host[:port]>',
      'from the host, reach this WinRM host too (the double hop) and report who arrives',
    )
    .option('--json', 'print the whole report as JSON (many hosts: one report per line)')
    .option('--throttle <n>', 'many hosts: how many are checked at once (default 32)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--throttle must be a positive integer, got ${v}`);
      return n;
    });
  cmd.addHelpText(
    'after',
    '\nExamples:\n  winrm-ts doctor -H win1 -u EXAMPLE\\\\alice\n  winrm-ts doctor -H win1 -u EXAMPLE\\\\alice --second-hop ' +
      'win2 --json\n  winrm-ts doctor -H @hosts.txt -u EXAMPLE\\\\alice --json',
  );
  cmd.action(async (f: DoctorFlags) => {
    if (isHostList(f.host)) {
      process.exitCode = await doctorMany(f);
      return;
    }
    const conn = await connectionFromOptions(f);
    const colour = !f.json && useColour(process.stdout);
    if (!f.json) process.stdout.write(renderHeader(endpointUrl(conn), f.secondHop));
    const report = await runDoctor(conn, {
      secondHop: f.secondHop,
      ...(f.json ? {} : { onCheck: (c) => process.stdout.write(renderCheck(c, colour)) }),
    });
    process.stdout.write(f.json ? JSON.stringify(report, null, 2) + '\n' : renderSummary(report));
    process.exitCode = report.ok ? 0 : 1;
  });
}

/** doctor over a host list: every host's report, whole, as it finishes; exit 1 when any host has a failed check. */
async function doctorMany(f: DoctorFlags): Promise<number> {
  const hosts = parseHostList(f.host);
  const flags = { ...f };
  // the password once, for every host (a user may come from the config's profiles)
  const withUser = flags.user ? flags : hosts.map((h) => hostFlags(flags, h)).find((x) => x.user);
  if (withUser?.user && flags.password === undefined && process.env.WINRM_PASSWORD === undefined)
    flags.password = await askPassword(withUser.user, withUser);
  const colour = !f.json && useColour(process.stdout);
  let failed = 0;
  const events = fanout<never, Report>(
    hosts,
    async (host) => runDoctor(await connectionFromOptions(hostFlags(flags, host)), { secondHop: f.secondHop }),
    { throttle: f.throttle ?? 32 },
  );
  for await (const ev of events) {
    if (ev.type === 'done') {
      if (!ev.result.ok) failed++;
      if (f.json) process.stdout.write(JSON.stringify({ PSComputerName: ev.host, ...ev.result }) + '\n');
      else {
        process.stdout.write(
          `[${ev.host}]\n` +
            renderHeader(ev.result.url, f.secondHop) +
            ev.result.checks.map((c) => renderCheck(c, colour)).join('') +
            renderSummary(ev.result) +
            '\n',
        );
      }
    } else if (ev.type === 'error') {
      failed++;
      const message = (ev.error as Error)?.message ?? String(ev.error);
      if (f.json) process.stdout.write(JSON.stringify({ PSComputerName: ev.host, ok: false, error: message }) + '\n');
      else process.stdout.write(`[${ev.host}]\n  doctor could not run: ${message}\n\n`);
    }
  }
  if (!f.json)
    process.stderr.write(`${hosts.length - failed} of ${hosts.length} hosts without a failed check${failed ? `, ${failed} with` : ''}\n`);
  return failed ? 1 : 0;
}
