/**
 * `winrm-ts serve --listen 127.0.0.1:5985 [--https --cert C --key K] --users FILE [--auth basic,negotiate,...]
 *   [--allow-unencrypted] [--name HOSTNAME] [--cbt none|relaxed|strict]`
 * A local WinRM endpoint. Prints the URL, logs one line per request/auth (never secrets), runs until SIGINT/SIGTERM.
 * Accounts: each users-file entry may name the local account its logons run as (DOMAIN\user:password:account);
 * entries without one run as the endpoint's own account (one user only, or --single-account). Start-up says which
 * account logons run as, loudly when that is root; stopping kills every process the endpoint started.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { serve, loadUsersFile, InvalidArgumentError, PsrpEndpoint, loadSessionConfigs } from '../../index.js';
import { collect } from '../options.js';
import { listenAddresses, serveAll } from '../fanout-serve.js';
import { addLimitOptions, limitsFromFlags } from './serve-limits.js';

export function register(program: Command): void {
  program
    .command('serve')
    .description('run a local WinRM endpoint (WinRS cmd shell) for tests, CI and Linux hosts')
    .option(
      '--listen <host:port>',
      'address to listen on (default 127.0.0.1:5985); repeatable: one endpoint per address, named NAME-PORT',
      collect,
    )
    .option('--https', 'serve HTTPS (needs --cert and --key)')
    .option('--cert <file>', 'TLS certificate (PEM)')
    .option('--key <file>', 'TLS private key (PEM)')
    .requiredOption(
      '--users <file>',
      'users file (mode 600): DOMAIN\\user:password[:account] per line; also DOMAIN\\user:cert:<upn>[:account], user@REALM:*[:account]',
    )
    .option('--single-account', "let several users without an account share the endpoint's own account")
    .option('--auth <list>', 'comma-separated: negotiate, ntlm, basic, credssp, kerberos', 'negotiate')
    .option('--allow-unencrypted', 'accept Basic and unencrypted bodies over plain HTTP (AllowUnencrypted=true)')
    .option('--name <hostname>', 'the machine name this endpoint reports', 'localhost')
    .addOption(new Option('--cbt <mode>', 'channel binding hardening for HTTPS').choices(['none', 'relaxed', 'strict']).default('relaxed'))
    .option('--max-envelope-size <bytes>', 'MaxEnvelopeSize in bytes', '512000')
    .option('--quiet', 'no per-request log lines')
    .option('--pwsh <path>', 'PowerShell to host PSRP sessions (default: $WINRM_TS_PWSH, else pwsh on PATH)')
    .option('--keytab <file>', 'Kerberos service keytab (HTTP/<name>) for --auth kerberos / negotiate (default: $KRB5_KTNAME)')
    .option('--session-config <file>', 'JSON session configurations: { "name", "visibleCommands": [...], "language" } or an array')
    // certificate authentication: request client certificates, map them through `DOMAIN\\user:cert:UPN` users-file entries
    .option('--client-ca <file>', 'HTTPS: request client certificates issued by this CA (PEM); with --auth certificate')
    .option('--crl <file>', 'certificate revocation list(s) of the client CA (PEM): revoked client certificates are refused')
    .action(
      async (f: {
        clientCa?: string;
        crl?: string;
        listen?: string[];
        https?: boolean;
        cert?: string;
        key?: string;
        users: string;
        auth: string;
        allowUnencrypted?: boolean;
        name: string;
        cbt: 'none' | 'relaxed' | 'strict';
        maxEnvelopeSize: string;
        quiet?: boolean;
        pwsh?: string;
        sessionConfig?: string;
        singleAccount?: boolean;
        keytab?: string;
      }) => {
        const read = (p: string | undefined, what: string) => {
          if (!p) return undefined;
          try {
            return readFileSync(p, 'utf8');
          } catch (e) {
            throw new InvalidArgumentError(`cannot read ${what} ${p}: ${(e as Error).message}`);
          }
        };
        const mes = Number(f.maxEnvelopeSize);
        if (!Number.isInteger(mes) || mes < 8192) throw new InvalidArgumentError('--max-envelope-size must be an integer >= 8192');
        const log = f.quiet ? undefined : (line: string) => process.stdout.write(line + '\n');
        const psrp = new PsrpEndpoint({ pwsh: f.pwsh, configurations: f.sessionConfig ? loadSessionConfigs(f.sessionConfig) : [], log });
        const userDb = loadUsersFile(f.users);
        const cert = read(f.cert, '--cert'),
          key = read(f.key, '--key'),
          clientCa = read(f.clientCa, '--client-ca'),
          crl = read(f.crl, '--crl');
        let first = true;
        const handles = await serveAll(listenAddresses(f.listen), f.name, async (listen, name) => {
          const handle = await serve({
            resources: psrp.resources(),
            listen,
            https: !!f.https,
            cert,
            key,
            userDb,
            singleAccount: !!f.singleAccount,
            auth: f.auth.split(','),
            allowUnencrypted: !!f.allowUnencrypted,
            name,
            cbt: f.cbt,
            maxEnvelopeSize: mes,
            ...(f.keytab ? { keytab: f.keytab } : {}),
            clientCa,
            crl,
            limits: limitsFromFlags(f as Record<string, unknown>),
            externalShells: () => psrp.shells.values(),
            log: f.quiet ? undefined : (line) => process.stdout.write(line + '\n'),
          });
          for (const line of first ? handle.accounts.summary : []) process.stdout.write(`winrm-ts serve: ${line}\n`);
          if (first && handle.accounts.rootLogons) {
            process.stderr.write(
              'winrm-ts serve: WARNING: logons run as root: whoever logs on controls this machine. Map each user to a local account ' +
                '(DOMAIN\\user:password:account in the users file).\n',
            );
          }
          first = false;
          process.stdout.write(
            `winrm-ts serve: listening on ${handle.url} (auth: ${f.auth}${f.allowUnencrypted ? ', unencrypted allowed' : ''})` +
              (handle.fingerprint ? ` certificate ${handle.fingerprint}` : '') +
              '\n',
          );
          return handle;
        });
        await new Promise<void>((resolve) => {
          let stopping = false;
          // the first signal stops cleanly (shells deleted, their process groups killed); a second one exits at once
          // (the exit hook of src/server/spawn.ts still kills every process group the endpoint started)
          const stop = (sig: NodeJS.Signals) => {
            if (stopping) process.exit(sig === 'SIGINT' ? 130 : 143);
            stopping = true;
            process.stdout.write('winrm-ts serve: stopping\n');
            Promise.all(handles.map((h) => h.close()))
              .then(() => psrp.close())
              .then(resolve, resolve);
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
      },
    );
  // limits and quotas: Windows' names and defaults (serve-limits.ts)
  addLimitOptions(program.commands.find((c) => c.name() === 'serve')!);
}
