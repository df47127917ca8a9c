/**
 * `winrm-ts serve --listen 127.0.0.1:5985 [--https --cert C --key K] --users FILE [--auth basic,negotiate,...]
 *   [--allow-unencrypted] [--name HOSTNAME] [--cbt none|relaxed|strict]`
 * A local WinRM endpoint. Prints the URL, logs one line per request/auth (never secrets), runs until SIGINT/SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { serve, loadUsersFile, InvalidArgumentError, PsrpEndpoint, loadSessionConfigs } from '../../index.js';
import { addLimitOptions, limitsFromFlags } from './serve-limits.js';

export function register(program: Command): void {
  program.command('serve')
    .description('run a local WinRM endpoint (WinRS cmd shell) for tests, CI and Linux hosts')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:5985')
    .option('--https', 'serve HTTPS (needs --cert and --key)')
    .option('--cert <file>', 'TLS certificate (PEM)')
    .option('--key <file>', 'TLS private key (PEM)')
    .requiredOption('--users <file>', 'users file: one DOMAIN\\user:password per line')
    .option('--auth <list>', 'comma-separated: negotiate, ntlm, basic, credssp, kerberos', 'negotiate')
    .option('--allow-unencrypted', 'accept Basic and unencrypted bodies over plain HTTP (AllowUnencrypted=true)')
    .option('--name <hostname>', 'the machine name this endpoint reports', 'localhost')
    .addOption(new Option('--cbt <mode>', 'channel binding hardening for HTTPS').choices(['none', 'relaxed', 'strict']).default('relaxed'))
    .option('--max-envelope-size <bytes>', 'MaxEnvelopeSize in bytes', '512000')
    .option('--quiet', 'no per-request log lines')
    .option('--pwsh <path>', 'PowerShell to host PSRP sessions (default: $WINRM_TS_PWSH, the peer install, or pwsh on PATH)')
    .option('--session-config <file>', 'JSON session configurations: { "name", "visibleCommands": [...], "language" } or an array')
    .action(async (f: { listen: string; https?: boolean; cert?: string; key?: string; users: string; auth: string; allowUnencrypted?: boolean; name: string; cbt: 'none' | 'relaxed' | 'strict'; maxEnvelopeSize: string; quiet?: boolean; pwsh?: string; sessionConfig?: string }) => {
      const read = (p: string | undefined, what: string) => {
        if (!p) return undefined;
        try { return readFileSync(p, 'utf8'); } catch (e) { throw new InvalidArgumentError(`cannot read ${what} ${p}: ${(e as Error).message}`); }
      };
      const mes = Number(f.maxEnvelopeSize);
      if (!Number.isInteger(mes) || mes < 8192) throw new InvalidArgumentError('--max-envelope-size must be an integer >= 8192');
      const log = f.quiet ? undefined : (line: string) => process.stdout.write(line + '\n');
      const psrp = new PsrpEndpoint({ pwsh: f.pwsh, configurations: f.sessionConfig ? loadSessionConfigs(f.sessionConfig) : [], log });
      const handle = await serve({
        resources: psrp.resources(),
        listen: f.listen, https: !!f.https, cert: read(f.cert, '--cert'), key: read(f.key, '--key'),
        userDb: loadUsersFile(f.users), auth: f.auth.split(','), allowUnencrypted: !!f.allowUnencrypted,
        name: f.name, cbt: f.cbt, maxEnvelopeSize: mes,
        limits: limitsFromFlags(f as Record<string, unknown>), externalShells: () => psrp.shells.values(),
        log: f.quiet ? undefined : (line) => process.stdout.write(line + '\n'),
      });
      process.stdout.write(`winrm-ts serve: listening on ${handle.url} (auth: ${f.auth}${f.allowUnencrypted ? ', unencrypted allowed' : ''})${handle.fingerprint ? ` certificate ${handle.fingerprint}` : ''}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => { process.stdout.write('winrm-ts serve: stopping\n'); handle.close().then(() => psrp.close()).then(resolve, resolve); };
        process.once('SIGINT', stop); process.once('SIGTERM', stop);
      });
    });
  // limits and quotas: Windows' names and defaults (serve-limits.ts)
  addLimitOptions(program.commands.find((c) => c.name() === 'serve')!);
}
