/**
 * `winrm-ts demo`: the seed's double-hop story, replayed on this machine with no Windows and no network.
 * Two endpoints (hostA, hostB) on ephemeral loopback ports share one in-memory users file; each step prints the
 * command a user would type, its real output, and what it means. The first hop runs in this process through the
 * library (the same code as `winrm-ts run`); the second hop is a real `winrm-ts` process started ON hostA by the
 * endpoint (the `winrm-ts` shim on the child's PATH), authenticating — or not — through hostA's logon session.
 * Returns true when every step behaved as the story says it should.
 */
import { randomBytes } from 'node:crypto';
import { connect } from '../client/client.js';
import { serve, type ServerHandle } from '../server/server.js';
import { MemoryUserDatabase } from '../server/users.js';
import { DelegationRefusedError } from '../errors.js';
import { DEMO_REALM, findRealmTools, startDemoRealm, type DemoRealm } from './realm.js';

export interface DemoOptions {
  /** where the story goes (default process.stdout) */
  write?: (text: string) => void;
  /** ANSI colours (default: stdout is a TTY and NO_COLOR is unset) */
  color?: boolean;
  /** called between steps (e.g. wait for Enter) */
  pause?: () => Promise<void>;
  /** collect the steps as data instead of printing prose */
  json?: boolean;
  /**
   * The Kerberos-delegation chapter needs MIT's KDC tools (krb5kdc, kdb5_util, kadmin.local) for a throw-away realm.
   * 'auto' (default): played when they are installed, else the step says what to install and is marked skipped;
   * 'require': a missing tool fails the step; 'off': not played.
   */
  kerberos?: 'auto' | 'require' | 'off';
}

export interface DemoStep {
  step: number;
  title: string;
  command?: string;
  output?: string;
  exitCode?: number;
  expected: string;
  ok: boolean;
  /** the step could not be played on this machine (why, and what to install) */
  skipped?: string;
}

export interface DemoResult {
  ok: boolean;
  steps: DemoStep[];
  hostA: string;
  hostB: string;
  ms: number;
}

const USER = 'EXAMPLE\\alice';
/**
 * A throw-away password for the two in-process endpoints, new for every run (the endpoints listen on loopback while
 * the demo runs: a fixed, published password would let any local user log on to them); printed nowhere.
 */
const DEMO_PASSWORD = randomBytes(18).toString('base64url');

export async function runDemo(o: DemoOptions = {}): Promise<DemoResult> {
  const started = Date.now();
  const write =
    o.write ??
    ((t: string) => {
      process.stdout.write(t);
    });
  const useColor = o.color ?? (!!process.stdout.isTTY && !process.env.NO_COLOR);
  const c = (code: string) => (s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
  const bold = c('1'),
    dim = c('2'),
    green = c('32'),
    red = c('31'),
    cyan = c('36'),
    yellow = c('33');
  const say = (t = '') => {
    if (!o.json) write(t + '\n');
  };
  const indent = (t: string, pad = '    ') =>
    t
      .replace(/\s+$/, '')
      .split('\n')
      .map((l) => pad + l)
      .join('\n');

  const userDb = new MemoryUserDatabase([
    { domain: 'EXAMPLE', user: 'alice', password: DEMO_PASSWORD },
    // the same user by Kerberos alone (users file line `alice@EXAMPLE.TEST:*`)
    { domain: 'EXAMPLE', user: 'alice', kerberosPrincipal: `alice@${DEMO_REALM}` },
  ]);
  const logs: Record<'A' | 'B', string[]> = { A: [], B: [] };
  const hosts: ServerHandle[] = [];
  const steps: DemoStep[] = [];
  const TOTAL = 6;
  let urlA = '',
    urlB = '';
  let realm: DemoRealm | undefined;
  let realmMissing: string | undefined;
  const kerberosMode = o.kerberos ?? 'auto';
  // the story sets its own delegate lists: an allow-list from the caller's environment must not change step 4
  const savedDelegate = process.env.WINRM_TS_DELEGATE_TO;
  delete process.env.WINRM_TS_DELEGATE_TO;
  try {
    if (kerberosMode !== 'off') {
      const { missing } = findRealmTools();
      if (missing.length)
        realmMissing = `MIT Kerberos KDC tools not installed (${missing.join(', ')}): apt-get install krb5-kdc krb5-admin-server`;
      else {
        try {
          realm = await startDemoRealm(DEMO_PASSWORD);
        } catch (e) {
          realmMissing = `could not start a private Kerberos realm: ${(e as Error).message}`;
        }
      }
    }
    const auth = realm ? ['negotiate', 'credssp', 'kerberos'] : ['negotiate', 'credssp'];
    const A = await serve({ listen: '127.0.0.1:0', userDb, auth, keytab: realm?.keytab, name: 'hostA', log: (l) => logs.A.push(l) });
    hosts.push(A);
    const B = await serve({ listen: '127.0.0.1:0', userDb, auth, keytab: realm?.keytab, name: 'hostB', log: (l) => logs.B.push(l) });
    hosts.push(B);
    urlA = A.url;
    urlB = B.url;
    const a = `127.0.0.1:${A.port}`,
      b = `127.0.0.1:${B.port}`;

    say(bold('winrm-ts demo') + ' — the WinRM "double hop", replayed on this machine (no Windows, no network)');
    say();
    say('Two WinRM endpoints on loopback, with the same users file (EXAMPLE\\alice):');
    const offers = realm ? 'Negotiate, CredSSP and Kerberos' : 'Negotiate and CredSSP';
    say(`  hostA  ${A.url}   offers ${offers} (CredSSP as after Enable-WSManCredSSP -Role Server)`);
    say(`  hostB  ${B.url}   offers ${offers}`);
    say(dim('The password is in WINRM_PASSWORD for every command below, so it is not on the command line.'));

    /** Run a command line on hostA as alice, the way `winrm-ts run -H hostA ...` does. */
    const onA = async (auth: 'negotiate' | 'credssp', line: string, delegateTo?: string[]) => {
      let client: ReturnType<typeof connect> | undefined;
      try {
        client = connect({ host: a, username: USER, password: DEMO_PASSWORD, auth, delegateTo });
        const r = await client.exec(line);
        return { output: (r.stdout.toString('utf8') + r.stderr.toString('utf8')).replace(/\r/g, ''), exitCode: r.exitCode };
      } catch (e) {
        return { output: `winrm-ts: ${(e as Error).message}\n`, exitCode: 1, error: e as Error };
      } finally {
        client?.close();
      }
    };
    const cmdline = (auth: string, rest: string, delegate?: string) =>
      `winrm-ts run -H ${a} -u '${USER}' --auth ${auth}${delegate ? ` --delegate-to '${delegate}'` : ''} -- ${rest}`;
    const logLines = (host: 'A' | 'B', from: number, re: RegExp) =>
      logs[host]
        .slice(from)
        .filter((l) => re.test(l))
        .map((l) => l.replace(/^\S+ conn#\d+ \S+ /, ''));
    const mark = { A: 0, B: 0 };
    const snap = () => {
      mark.A = logs.A.length;
      mark.B = logs.B.length;
    };

    const header = async (n: number, title: string) => {
      if (n > 1 && o.pause) await o.pause();
      say();
      say(cyan(bold(`── Step ${n}/${TOTAL} · ${title}`)));
    };
    const show = (cmd: string, r: { output: string; exitCode: number }) => {
      say(`  ${dim('$')} ${bold(cmd)}`);
      if (r.output.trim()) say(indent(r.output));
      say(dim(`    (exit code ${r.exitCode})`));
    };
    const verdict = (ok: boolean, text: string) => say(`  ${ok ? green('✔') : red('✘ UNEXPECTED:')} ${text}`);

    // ---- 1. Negotiate to hostA ---------------------------------------------------------------------------
    await header(1, 'Negotiate to hostA works');
    snap();
    {
      const cmd = cmdline('negotiate', 'whoami');
      const r = await onA('negotiate', 'whoami');
      show(cmd, r);
      const ok = r.exitCode === 0 && r.output.trim().toLowerCase() === 'example\\alice';
      steps.push({
        step: 1,
        title: 'Negotiate to hostA',
        command: cmd,
        output: r.output,
        exitCode: r.exitCode,
        expected: 'example\\alice',
        ok,
      });
      verdict(ok, 'hostA knows you. NTLM inside Negotiate proved the password without sending it.');
      for (const l of logLines('A', mark.A, /auth ok/)) say(dim(`    hostA log: ${l}`));
    }

    // ---- 2. the second hop with Negotiate ----------------------------------------------------------------
    await header(2, 'From hostA, reach hostB: the second hop fails');
    snap();
    {
      const inner = `winrm-ts run -H ${b} -- whoami`;
      const cmd = cmdline('negotiate', inner);
      const r = await onA('negotiate', inner);
      show(cmd, r);
      const ok = r.exitCode !== 0 && /ANONYMOUS LOGON/.test(r.output);
      steps.push({
        step: 2,
        title: 'second hop with Negotiate',
        command: cmd,
        output: r.output,
        exitCode: r.exitCode,
        expected: 'NT AUTHORITY\\ANONYMOUS LOGON refused',
        ok,
      });
      verdict(ok, `hostB saw ${yellow('NT AUTHORITY\\ANONYMOUS LOGON')} and refused it.`);
      for (const l of logLines('A', mark.A, /auth ok/)) say(dim(`    hostA log: ${l}`));
      for (const l of logLines('B', mark.B, /ANONYMOUS|anonymous/)) say(dim(`    hostB log: ${l}`));
      say('  What went wrong: Negotiate (NTLM) gives hostA a *network logon*. hostA learned who you are, but it never');
      say('  got your password or a forwardable ticket, so a program running there has nothing to authenticate with:');
      say('  its connection to hostB is anonymous. On Windows the same thing shows up as "Login failed for user');
      say("  'NT AUTHORITY\\ANONYMOUS LOGON'\" from SQL Server, a share, or the next WinRM host.");
    }

    // ---- 3. the fix: CredSSP with a delegate list --------------------------------------------------------
    await header(3, 'The fix: CredSSP, with hostA on the delegate list');
    snap();
    {
      const inner = `winrm-ts run -H ${b} -- whoami`;
      const cmd = cmdline('credssp', inner, 'wsman/127.0.0.1');
      const r = await onA('credssp', inner, ['wsman/127.0.0.1']);
      show(cmd, r);
      const ok = r.exitCode === 0 && r.output.trim().toLowerCase() === 'example\\alice';
      steps.push({
        step: 3,
        title: 'second hop with CredSSP',
        command: cmd,
        output: r.output,
        exitCode: r.exitCode,
        expected: 'example\\alice from hostB',
        ok,
      });
      verdict(ok, 'hostB answers as example\\alice: the second hop works.');
      for (const l of logLines('A', mark.A, /auth ok/)) say(dim(`    hostA log: ${l}`));
      for (const l of logLines('B', mark.B, /auth ok/)) say(dim(`    hostB log: ${l}`));
      say('  Why it works: CredSSP sends your user name and password to hostA inside TLS (after NTLM proved who');
      say("  hostA is), so hostA holds an *interactive logon* with credentials. The program on hostA asked hostA's");
      say('  logon session to authenticate for it (like LSASS on Windows): it never saw the password itself.');
      say('  All it holds is a socket and a capability for that session:');
      const envLine = 'env | grep ^WINRM_TS_LOGON_ | sort';
      const e = await onA('credssp', envLine, ['wsman/127.0.0.1']);
      const masked = e.output.replace(/(WINRM_TS_LOGON_TOKEN=)\S+/, '$1<random, per session>');
      show(cmdline('credssp', `'${envLine}'`, 'wsman/127.0.0.1'), { output: masked, exitCode: e.exitCode });
      const envOk = e.exitCode === 0 && /WINRM_TS_LOGON_BROKER=/.test(e.output) && !e.output.includes(DEMO_PASSWORD);
      if (!envOk) {
        steps[steps.length - 1]!.ok = false;
        verdict(false, 'the program on hostA does not see the broker as expected');
      }
      say('  The Windows equivalent of what you just did:');
      say(dim('    client:  Enable-WSManCredSSP -Role Client -DelegateComputer hostA'));
      say(dim('             policy "Allow delegating fresh credentials with NTLM-only server authentication" = wsman/hostA'));
      say(dim('    hostA:   Enable-WSManCredSSP -Role Server          (check both ends with Get-WSManCredSSP)'));
      say(dim('    then:    Invoke-Command -ComputerName hostA -Authentication CredSSP -Credential $cred -ScriptBlock {...}'));
    }

    // ---- 4. the guard ------------------------------------------------------------------------------------
    await header(4, 'The guard: CredSSP to a host outside the delegate list is refused');
    snap();
    {
      const cmd = cmdline('credssp', 'whoami', 'wsman/*.corp.example');
      const r = await onA('credssp', 'whoami', ['wsman/*.corp.example']);
      show(cmd, r);
      const credsspSeen = logLines('A', mark.A, /credssp/i);
      const ok = r.exitCode !== 0 && (r as { error?: Error }).error instanceof DelegationRefusedError && credsspSeen.length === 0;
      steps.push({
        step: 4,
        title: 'delegation guard',
        command: cmd,
        output: r.output,
        exitCode: r.exitCode,
        expected: 'refused before any token is sent',
        ok,
      });
      verdict(
        ok,
        `refused on this machine before any secret left it (hostA's log shows ${
          credsspSeen.length ? 'CredSSP ' + 'traffic!' : 'no CredSSP traffic at all'
        }).`,
      );
      say('  CredSSP hands over your full password — it is not constrained delegation — so winrm-ts sends it only to');
      say('  hosts you list: --delegate-to wsman/HOST (patterns like wsman/*.corp.example), WINRM_TS_DELEGATE_TO,');
      say('  or the delegateTo option. Trust those hosts as much as you trust your password.');
    }

    // ---- 5. Kerberos delegation ---------------------------------------------------------------------------
    await header(5, 'The other fix: Kerberos delegation (a forwarded ticket)');
    if (!realm) {
      const why = realmMissing ?? 'not played (kerberos: off)';
      say(`  ${yellow('skipped:')} ${why}.`);
      say('  With a KDC this step shows the same second hop failing with Kerberos, and working with --kerberos-delegate.');
      const required = kerberosMode === 'require';
      steps.push({
        step: 5,
        title: 'second hop with Kerberos delegation',
        expected: 'ANONYMOUS LOGON without delegation; alice with it',
        ok: !required,
        skipped: why,
      });
      if (required) verdict(false, 'the Kerberos chapter was required but could not be played');
    } else {
      const pa = A.port,
        pb = B.port;
      const saved = { conf: process.env.KRB5_CONFIG, cc: process.env.KRB5CCNAME };
      // the realm's configuration for this process and the endpoints' logon sessions; no ccache of the caller's is used
      process.env.KRB5_CONFIG = realm.krb5Conf;
      process.env.KRB5CCNAME = `FILE:${realm.emptyCcache}`;
      try {
        say(`  A private realm ${DEMO_REALM} (MIT krb5kdc on loopback) knows alice@${DEMO_REALM} and HTTP/localhost; both hosts`);
        say('  hold the HTTP/localhost key (serve --keytab) and admit the principal (users file line alice@EXAMPLE.TEST:*).');
        const inner = `winrm-ts run -H localhost:${pb} --auth kerberos -- whoami`;
        const kcmd = (delegate: boolean) =>
          `winrm-ts run -H localhost:${pa} -u alice@${DEMO_REALM} --auth kerberos${delegate ? ' --kerberos-delegate' : ''} -- ${inner}`;
        const onAKerberos = async (delegate: boolean, line = inner) => {
          let client: ReturnType<typeof connect> | undefined;
          try {
            client = connect({
              host: `localhost:${pa}`,
              username: `alice@${DEMO_REALM}`,
              password: DEMO_PASSWORD,
              auth: 'kerberos',
              kerberosDelegate: delegate,
            });
            const r = await client.exec(line);
            return { output: (r.stdout.toString('utf8') + r.stderr.toString('utf8')).replace(/\r/g, ''), exitCode: r.exitCode };
          } catch (e) {
            return { output: `winrm-ts: ${(e as Error).message}\n`, exitCode: 1 };
          } finally {
            client?.close();
          }
        };
        snap();
        const r1 = await onAKerberos(false);
        show(kcmd(false), r1);
        const ok1 = r1.exitCode !== 0 && /ANONYMOUS LOGON/.test(r1.output);
        verdict(ok1, 'Kerberos alone proves who you are to hostA, but hostA gets no ticket to pass on: ANONYMOUS LOGON again.');
        snap();
        const r2 = await onAKerberos(true);
        show(kcmd(true), r2);
        const ok2 = r2.exitCode === 0 && r2.output.trim().toLowerCase() === 'example\\alice';
        verdict(ok2, 'with a forwarded TGT hostB answers as example\\alice: the second hop works, and no password left this machine.');
        for (const l of logLines('B', mark.B, /auth ok/)) say(dim(`    hostB log: ${l}`));
        let ok3 = true;
        if (findRealmTools().klist) {
          // any program, not only winrm-ts: MIT's own klist sees the forwarded TGT in the logon session's cache
          const r3 = await onAKerberos(true, 'klist');
          show(`winrm-ts run -H localhost:${pa} -u alice@${DEMO_REALM} --auth kerberos --kerberos-delegate -- klist`, r3);
          ok3 = r3.exitCode === 0 && r3.output.includes(`krbtgt/${DEMO_REALM}@${DEMO_REALM}`);
          verdict(ok3, "MIT's klist on hostA lists the forwarded TGT: every Kerberos program there can use it.");
        }
        steps.push({
          step: 5,
          title: 'second hop with Kerberos delegation',
          command: kcmd(true),
          output: r1.output + r2.output,
          exitCode: r2.exitCode,
          expected: 'ANONYMOUS LOGON without delegation; example\\alice with it',
          ok: ok1 && ok2 && ok3,
        });
        say('  Why: --kerberos-delegate puts a forwardable TGT (KRB-CRED) in the AP-REQ; hostA keeps it in the logon');
        say("  session's own credential cache (KRB5CCNAME), so any program there — winrm-ts, curl --negotiate, smbclient,");
        say('  psql — reaches the next service as you. On Windows the host account needs "Trust this computer for');
        say('  delegation" (or constrained / resource-based delegation to the next service).');
      } finally {
        if (saved.conf === undefined) delete process.env.KRB5_CONFIG;
        else process.env.KRB5_CONFIG = saved.conf;
        if (saved.cc === undefined) delete process.env.KRB5CCNAME;
        else process.env.KRB5CCNAME = saved.cc;
      }
    }

    // ---- 6. the other fixes ------------------------------------------------------------------------------
    await header(6, 'The other fixes, in one line each');
    say('  • Basic over HTTPS: the password reaches the host inside TLS, an interactive logon, so the second hop works too.');
    say('  • Constrained / resource-based Kerberos delegation: the host gets tickets for named services only, never a TGT.');
    say('  • JEA or a RunAs session configuration: commands on the host run as a configured account with its own access.');
    say('  • Pass a credential into the script: winrm-ts run -H hostB -u DOMAIN\\user (or $using:cred / -Credential in PowerShell).');
    steps.push({ step: 6, title: 'other fixes', expected: 'explained', ok: true });
  } finally {
    if (savedDelegate !== undefined) process.env.WINRM_TS_DELEGATE_TO = savedDelegate;
    await Promise.all(hosts.map((h) => h.close().catch(() => undefined)));
    realm?.stop();
  }
  const ok = steps.length === TOTAL && steps.every((s) => s.ok);
  const ms = Date.now() - started;
  say();
  const skipped = steps.filter((s) => s.skipped).map((s) => s.step);
  say(
    ok
      ? green(
          bold(
            `Every step behaved as expected (${(ms / 1000).toFixed(1)} s)${skipped.length ? `; step ${skipped.join(', ')} skipped` : ''}.`,
          ),
        )
      : red(
          bold(
            `Some steps did not behave as expected: ${steps
              .filter((s) => !s.ok)
              .map((s) => s.step)
              .join(', ')}.`,
          ),
        ),
  );
  return { ok, steps, hostA: urlA, hostB: urlB, ms };
}
