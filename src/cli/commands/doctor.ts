/**
 * `winrm-ts doctor -H HOST [connection flags] [--second-hop HOSTB] [--json]`: why does this not work? Runs the checks of
 * src/cli/doctor/checks.ts (reachability, HTTP/HTTPS, the listener, TLS, auth schemes, this client's side, the service
 * configuration, an authenticated whoami, the second hop) and prints each as ok / warning / FAILED with the cause and
 * the fix. Exits 1 when a check failed.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../errors.js';
import { addConnectionOptions, connectionFromOptions, type ConnectionFlags } from '../options.js';
import { runDoctor } from '../doctor/checks.js';
import { renderCheck, renderHeader, renderSummary, useColour } from '../doctor/render.js';
import { endpointUrl } from '../../client/client.js';

export function register(program: Command): void {
  const cmd = program.command('doctor')
    .description('diagnose a WinRM connection: reachability, TLS, auth schemes, service configuration, whoami, the second hop');
  addConnectionOptions(cmd)
    .option('--second-hop <host[:port]|https://host[:port]>', 'from the host, reach this WinRM host too (the double hop) and report who arrives')
    .option('--json', 'print the whole report as JSON');
  cmd.addHelpText('after', '\nExamples:\n  winrm-ts doctor -H win1 -u EXAMPLE\\\\alice\n  winrm-ts doctor -H win1 -u EXAMPLE\\\\alice --second-hop win2 --json');
  cmd.action(async (f: ConnectionFlags & { secondHop?: string; json?: boolean }) => {
    if (/[,@]/.test(f.host)) throw new InvalidArgumentError('doctor checks one host at a time: -H HOST[:port]');
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
