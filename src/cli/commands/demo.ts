/**
 * `winrm-ts demo [--step] [--json]`
 * Replays the double-hop story (Negotiate -> ANONYMOUS LOGON on the second hop; CredSSP with a delegate list ->
 * the user on hostB; the guard; Kerberos delegation with a private MIT realm when krb5kdc is installed) against two endpoints started in
 * this process on loopback. No Windows, no network.
 * Exit 0 when every step behaved as expected.
 */
import { Option, type Command } from 'commander';
import { runDemo } from '../../index.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('replay the WinRM double hop (ANONYMOUS LOGON, the CredSSP fix, the delegation guard) on two local endpoints')
    .option('--step', 'pause between steps (on a terminal)')
    .option('--json', 'print the steps as JSON instead of the story')
    .addOption(
      new Option('--kerberos <mode>', 'the Kerberos-delegation step (needs MIT krb5kdc): auto = when installed, require, off')
        .choices(['auto', 'require', 'off'])
        .default('auto'),
    )
    .action(async (f: { step?: boolean; json?: boolean; kerberos: 'auto' | 'require' | 'off' }) => {
      const interactive = !!f.step && !!process.stdin.isTTY;
      const pause = interactive
        ? () =>
            new Promise<void>((resolve) => {
              process.stdout.write('  [Enter] next step ');
              process.stdin.resume();
              process.stdin.once('data', () => {
                process.stdin.pause();
                resolve();
              });
            })
        : undefined;
      const r = await runDemo({ json: !!f.json, pause, kerberos: f.kerberos });
      if (f.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      process.exitCode = r.ok ? 0 : 1;
    });
}
