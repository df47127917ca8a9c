/**
 * `winrm-ts doctor`: the checks, in order. Each returns a Check { id, title, status, detail, fix }; the renderer is
 * render.ts. A failed step that later steps depend on (DNS, TCP, the listener) ends the run with the rest skipped.
 *
 *   reachability (DNS, TCP, HTTP vs HTTPS, a WinRM listener?) → TLS → auth schemes → this client's side →
 *   the service configuration (WS-Man Get of winrm/config) → an authenticated round trip (whoami) → the second hop
 */
import { connect, defaultAuthName, endpointUrl, parseHostPort, type ConnectOptions, type WinRMClient } from '../../client/client.js';
import { getMechanism } from '../../auth/registry.js';
import { checkDelegation } from '../../auth/credssp/delegation.js';
import { parseCertificatePin } from '../../http/transport.js';
import { WSManFaultError } from '../../errors.js';
import type { XmlElement } from '../../xml/dom.js';
import { explain, type CauseContext } from './causes.js';
import { clientPolicy, isTrustedHost } from './policy.js';
import { directDialer, httpPost, probeListener, resolveHost, tcpConnect, tlsProbe, type Dialer, type TlsResult } from './probe.js';
import { openTunnel, proxyFor, type ProxySpec } from '../../http/proxy.js';

export type Status = 'ok' | 'warning' | 'failed' | 'skipped';

export interface Check {
  id: string;
  title: string;
  status: Status;
  /** what was found (and, when not ok, the cause) */
  detail: string;
  /** what to do, most likely first: flags of this client, PowerShell commands on the host */
  fix?: string[];
  data?: Record<string, unknown>;
}

export interface Report {
  target: string;
  url: string;
  ok: boolean;
  checks: Check[];
}

export interface DoctorOptions {
  /** host[:port] to reach from the host (the double hop) */
  secondHop?: string;
  /** each check as soon as it is known (streaming output) */
  onCheck?: (c: Check) => void;
  /** bound of each unauthenticated probe, ms (default: the connect timeout, else 10 s) */
  probeTimeoutMs?: number;
  /** the configuration file's trusted hosts, when there is one (policy.ts) */
  trustedHosts?: string[];
  trustedHostsSource?: string;
}

/** The config values doctor reads (winrm get winrm/config). */
export interface ServiceConfig {
  maxEnvelopeSizeKb?: number;
  maxTimeoutMs?: number;
  allowUnencrypted?: boolean;
  cbtHardeningLevel?: string;
  auth: Record<string, boolean>;
  quotas: Record<string, number>;
}

const CFG_ROOT = 'http://schemas.microsoft.com/wbem/wsman/1/config';
/** Windows' names of the schemes in winrm/config/service/auth, by the HTTP scheme the listener offers */
const SERVICE_AUTH_NAME: Record<string, string> = {
  negotiate: 'Negotiate',
  kerberos: 'Kerberos',
  basic: 'Basic',
  credssp: 'CredSSP',
  ntlm: 'Negotiate',
};
const enableOnHost = (name: string) =>
  name === 'CredSSP'
    ? 'on the host: Enable-WSManCredSSP -Role Server -Force'
    : `on the host: Set-Item WSMan:\\localhost\\Service\\Auth\\${name} $true`;

export async function runDoctor(conn: ConnectOptions, o: DoctorOptions = {}): Promise<Report> {
  const checks: Check[] = [];
  const add = (c: Check) => {
    checks.push(c);
    o.onCheck?.(c);
    return c;
  };
  const https = !!conn.https;
  const hp = parseHostPort(conn.host);
  const host = hp.host;
  const port = conn.port ?? hp.port ?? (https ? 5986 : 5985);
  const url = endpointUrl(conn);
  const timeoutMs = o.probeTimeoutMs ?? (conn.connectTimeout ?? 10) * 1000;
  const authName = conn.auth?.toLowerCase() === 'certificate' ? 'certificate' : defaultAuthName(conn);
  const ctx: CauseContext = { https, auth: authName, encryption: conn.encryption, host };
  const done = (): Report => ({ target: conn.host, url, ok: !checks.some((c) => c.status === 'failed'), checks });
  const skipRest = (why: string) => {
    for (const [id, title] of [
      ['auth-schemes', 'auth schemes'],
      ['round-trip', 'authenticated round trip'],
      ...(o.secondHop ? [['second-hop', 'second hop']] : []),
    ] as const) {
      add({ id, title, status: 'skipped', detail: why });
    }
    return done();
  };

  // ---- the proxy the client would use (--proxy, HTTPS_PROXY / HTTP_PROXY / NO_PROXY): the probes take it too ----
  let proxy: ProxySpec | undefined;
  try {
    proxy = proxyFor({ https, host, port }, { proxy: conn.proxy, noProxy: conn.noProxy });
  } catch (e) {
    add({
      id: 'proxy',
      title: 'proxy',
      status: 'failed',
      detail: (e as Error).message,
      fix: ['fix --proxy (or HTTPS_PROXY / HTTP_PROXY), or --proxy "" to go direct'],
    });
    return skipRest('the proxy setting is not usable');
  }
  if (proxy)
    add({
      id: 'proxy',
      title: 'proxy',
      status: 'ok',
      detail:
        `this client reaches ${host}:${port} through ${proxy.label} ` +
        `(${conn.proxy !== undefined ? '--proxy' : 'the environment: HTTPS_PROXY / HTTP_PROXY / ALL_PROXY'}); so do the probes ` +
        `below`,
    });
  const resolvedByProxy = !!proxy && proxy.kind !== 'socks5';

  // ---- reachability: DNS ----
  const dns = await resolveHost(host);
  if (!dns.ok && resolvedByProxy) {
    add({
      id: 'dns',
      title: 'DNS',
      status: 'ok',
      detail: `${host} does not resolve here (${dns.error}); the proxy ${proxy!.label} resolves it`,
    });
  } else if (!dns.ok) {
    add({
      id: 'dns',
      title: 'DNS',
      status: 'failed',
      detail: `cannot resolve ${host} (${dns.error})`,
      fix: [
        'check the name and the DNS suffix (Resolve-DnsName HOST on Windows, getent hosts HOST here)',
        'or connect by IP address (Kerberos then needs --spn HTTP/<name>; Negotiate falls back to NTLM)',
      ],
    });
    return skipRest('the host name does not resolve');
  }
  const byIp = dns.isIp;
  if (dns.ok)
    add({
      id: 'dns',
      title: 'DNS',
      status: byIp && authName === 'kerberos' && !conn.spn ? 'warning' : 'ok',
      detail: byIp
        ? `${host} is an IP address` +
          (authName === 'kerberos' || authName === 'negotiate'
            ? `: Kerberos then needs the service principal HTTP/${host}, which domains rarely register ` +
              '(Negotiate falls back to NTLM without it)'
            : '')
        : `${host} → ${dns.addresses.join(', ')} (${dns.ms} ms)`,
      ...(byIp && authName === 'kerberos' && !conn.spn
        ? {
            fix: [
              `connect by host name, or give the service principal: --spn HTTP/<name> (or register HTTP/${host}: setspn -S ` +
                `HTTP/${host} <computer account>)`,
            ],
          }
        : {}),
      data: { addresses: dns.addresses },
    });

  // ---- reachability: TCP ----
  const dial: Dialer = proxy ? () => openTunnel(proxy!, host, port, { timeoutMs }) : directDialer(host, port, timeoutMs);
  const tcp = await tcpConnect(dial);
  if (!tcp.ok && proxy) {
    const x = explain(tcp.cause, ctx);
    add({
      id: 'tcp',
      title: 'TCP connect',
      status: 'failed',
      detail: `through ${proxy.label}: ${x.cause}`,
      fix: x.fix,
      data: { ms: tcp.ms },
    });
    return skipRest('the port cannot be reached through the proxy');
  }
  if (!tcp.ok) {
    const refused = tcp.error === 'ECONNREFUSED';
    add({
      id: 'tcp',
      title: 'TCP connect',
      status: 'failed',
      detail: refused
        ? `nothing listens on ${host}:${port} (connection refused): the port is closed`
        : tcp.timedOut
          ? `no answer from ${host}:${port} within ${timeoutMs / 1000} s: a firewall drops the packets, or the host is down`
          : `cannot connect to ${host}:${port}: ${tcp.error}`,
      fix: refused
        ? [
            'on the host: Enable-PSRemoting -Force (or winrm quickconfig) creates the listener; winrm enumerate ' +
              'winrm/config/listener shows its port',
            `WinRM listens on 5985 (HTTP) and 5986 (HTTPS, with --https); check -H ${host}:PORT / --port`,
          ]
        : [
            'Test-NetConnection HOST -Port PORT from a machine nearby; the firewall rule "Windows Remote Management (HTTP-In)" ' +
              '(5985) or your HTTPS rule (5986)',
          ],
      data: { ms: tcp.ms, error: tcp.error },
    });
    return skipRest('the port cannot be reached');
  }
  add({
    id: 'tcp',
    title: 'TCP connect',
    status: 'ok',
    detail: `${host}:${port} connected in ${tcp.ms} ms${proxy ? ` (through ${proxy.label})` : ''}`,
    data: { ms: tcp.ms },
  });

  // ---- HTTP vs HTTPS, and the listener ----
  let tls: TlsResult | undefined;
  const path = conn.path ?? '/wsman';
  const ca = conn.ca;
  // --tls-server-name: the name the certificate is checked against (and SNI) when connecting by another name / address
  const servername = conn.tlsServerName;
  if (https) {
    tls = await tlsProbe(dial, host, { ca, timeoutMs, servername });
    if (!tls.ok) {
      const plain = await httpPost({
        https: false,
        host,
        port,
        path,
        dial,
        headers: { 'Content-Type': 'application/soap+xml;charset=UTF-8' },
        body: '',
        timeoutMs,
      });
      add({
        id: 'protocol',
        title: 'HTTP or HTTPS',
        status: 'failed',
        detail: plain.ok
          ? `${host}:${port} speaks plain HTTP, not HTTPS (the TLS handshake failed: ${tls.error})`
          : `the TLS handshake with ${host}:${port} failed: ${tls.error}`,
        fix: plain.ok
          ? [
              `drop --https (over HTTP Negotiate, Kerberos and CredSSP encrypt the messages), or use the HTTPS listener's port ` +
                `(5986): --port 5986`,
              'create an HTTPS listener on the host: New-Item WSMan:\\localhost\\Listener -Transport HTTPS -Address * ' +
                '-CertificateThumbprint <thumbprint>',
            ]
          : [],
      });
      return skipRest('no TLS on this port');
    }
  }
  const listener = await probeListener({ https, host, port, path, timeoutMs, ca, dial, servername });
  if (!listener.identify.ok && !listener.challenge.ok) {
    const t = https ? undefined : await tlsProbe(dial, host, { ca, timeoutMs, servername });
    if (t?.ok) {
      add({
        id: 'protocol',
        title: 'HTTP or HTTPS',
        status: 'failed',
        detail: `${host}:${port} speaks HTTPS (a TLS handshake succeeded, ${t.protocol}), not plain HTTP`,
        fix: [`add --https (the port is the HTTPS listener${port === 5986 ? '' : `; HTTP is usually 5985`})`],
      });
      return skipRest('this port wants TLS');
    }
    add({
      id: 'protocol',
      title: 'HTTP or HTTPS',
      status: 'failed',
      detail: `${host}:${port} accepts connections but gives no HTTP answer: ${listener.challenge.error ?? listener.identify.error}`,
      fix: ['the port belongs to another service; WinRM listens on 5985 (HTTP) / 5986 (HTTPS)'],
    });
    return skipRest('no HTTP answer');
  }
  add({
    id: 'protocol',
    title: 'HTTP or HTTPS',
    status: 'ok',
    detail: https ? `HTTPS (${tls!.protocol})` : "plain HTTP (messages are protected by the auth mechanism's encryption)",
  });
  const server = String(listener.challenge.headers?.server ?? listener.identify.headers?.server ?? '');
  const isWinrmTs = /winrm-ts/i.test(listener.vendor ?? '');
  if (listener.vendor) {
    add({
      id: 'listener',
      title: 'WinRM listener',
      status: 'ok',
      detail:
        `WS-Man Identify answered without authentication: ${listener.vendor}, ` +
        `${listener.productVersion ?? '?'}${server ? `; Server: ${server}` : ''}`,
      data: { vendor: listener.vendor, productVersion: listener.productVersion, protocolVersion: listener.protocolVersion, server },
    });
  } else if (listener.challenge.status === 401 && listener.schemes.length) {
    add({
      id: 'listener',
      title: 'WinRM listener',
      status: 'ok',
      detail:
        `POST ${path} asks for authentication (401: ${listener.schemes.join(', ')}); the unauthenticated WS-Man Identify was not ` +
        `answered${server ? `; Server: ${server}` : ''}`,
      data: { server },
    });
  } else {
    const st = listener.challenge.status ?? listener.identify.status;
    const ct = String(listener.challenge.headers?.['content-type'] ?? listener.identify.headers?.['content-type'] ?? '');
    add({
      id: 'listener',
      title: 'WinRM listener',
      status: 'failed',
      detail:
        `not a WinRM listener: POST ${path} answered HTTP ${st}${server ? ` from "${server}"` : ''}${ct ? ` (${ct})` : ''}, and ` +
        `no WS-Man Identify reply`,
      fix: [
        'another web server owns this port; WinRM listens on 5985 (HTTP) / 5986 (HTTPS): winrm enumerate winrm/config/listener on the host',
        `check the port and the path (${path}); on the host: Enable-PSRemoting -Force`,
      ],
      data: { status: st, server, contentType: ct },
    });
    return skipRest('not a WinRM listener');
  }

  // ---- TLS ----
  if (https && tls) add(tlsCheck(tls, conn, servername ?? host));

  // ---- auth schemes ----
  const schemes = add(schemesCheck(listener.schemes, conn, authName, https));

  // ---- this client's side ----
  const policy = clientPolicy({
    ...conn,
    trustedHosts: o.trustedHosts ?? conn.trustedHosts,
    trustedHostsSource: o.trustedHostsSource ?? conn.trustedHostsSource,
  });
  let delegation: Check;
  if (authName === 'credssp') {
    try {
      checkDelegation(host, policy.delegateTo);
      delegation = add({
        id: 'delegate-list',
        title: 'delegate list (CredSSP)',
        status: 'ok',
        detail: `wsman/${host} is on the delegate list (${policy.delegateTo.join(', ')}): CredSSP may hand the password to ${host}`,
      });
    } catch (e) {
      const x = explain(e, ctx);
      delegation = add({ id: 'delegate-list', title: 'delegate list (CredSSP)', status: 'failed', detail: x.cause, fix: x.fix });
    }
  } else {
    let allowed = false;
    try {
      checkDelegation(host, policy.delegateTo);
      allowed = true;
    } catch {
      allowed = false;
    }
    delegation = add({
      id: 'delegate-list',
      title: 'delegate list (CredSSP)',
      status: 'ok',
      detail:
        `not used with ${authName ?? 'anonymous'} (only CredSSP delegates the password); wsman/${host} is ${allowed ? '' : 'not '}on it` +
        (policy.delegateTo.length ? ` (${policy.delegateTo.join(', ')})` : ' (the list is empty)'),
    });
  }
  if (policy.trustedHosts) {
    const proven = (https && !conn.insecure) || authName === 'kerberos' || authName === 'certificate';
    const trusted = isTrustedHost(policy.trustedHosts, host);
    add({
      id: 'trusted-hosts',
      title: 'trusted hosts',
      status: proven || trusted ? 'ok' : 'failed',
      detail: proven
        ? `${host}'s identity is proven by ${https ? 'the TLS certificate' : authName}: trustedHosts does not apply`
        : trusted
          ? `${host} matches trustedHosts (${policy.trustedHostsSource ?? 'config'})`
          : `${host} is not in trustedHosts (${policy.trustedHostsSource ?? 'config'}): NTLM and Basic to it are refused`,
      ...(proven || trusted
        ? {}
        : {
            fix: [
              `add "${host}" (or a pattern such as *.domain) to trustedHosts in ${policy.trustedHostsSource ?? 'the config file'}`,
              "or prove the host's identity: --https with a verified certificate, or Kerberos",
            ],
          }),
    });
  } else {
    add({
      id: 'trusted-hosts',
      title: 'trusted hosts',
      status: 'ok',
      detail: 'no trustedHosts policy configured: this client does not restrict NTLM / Basic by host',
    });
  }
  add(encryptionCheck(conn, authName, https));

  // ---- the service configuration (WS-Man Get of winrm/config), read with encryption on whatever the user chose ----
  // read with the user's mechanism, or with Negotiate (same credentials) when that one cannot get in: the config then
  // says why (CredSSP disabled on the service, Basic only ...)
  const userWorks = schemes.status !== 'failed' && !(authName === 'credssp' && delegation.status === 'failed');
  const cfgAuth = !userWorks && conn.username && listener.schemes.some((x) => /^negotiate$/i.test(x)) ? 'negotiate' : authName;
  let cfg: ServiceConfig | undefined;
  let cfgClient: WinRMClient | undefined;
  try {
    cfgClient = connect({
      ...conn,
      ...(cfgAuth !== authName ? { auth: cfgAuth } : {}),
      encryption: conn.encryption === 'never' && !https ? 'auto' : conn.encryption,
      onWarning: () => undefined,
    });
    cfg = parseConfig((await cfgClient.wsman.get(CFG_ROOT, { signal: AbortSignal.timeout(timeoutMs + 30_000) })).payload);
  } catch (e) {
    const denied = e instanceof WSManFaultError && e.wsmanFaultCode === 2147942405;
    const x = explain(e, ctx);
    add({
      id: 'service-config',
      title: 'service configuration (winrm/config)',
      status: 'warning',
      detail: denied
        ? 'this user may not read winrm/config (on Windows only administrators may): the checks that need it are skipped'
        : `could not read winrm/config with ${cfgAuth ?? 'no credentials'}: ${x.cause}`,
      ...(denied
        ? { fix: ['run doctor as an administrator of the host to see AllowUnencrypted, CbtHardeningLevel, CredSSP and the quotas'] }
        : {}),
    });
  } finally {
    cfgClient?.close();
  }
  if (cfg) for (const c of configChecks(cfg, conn, authName, https, !!o.secondHop, host)) add(c);

  // ---- the authenticated round trip, with the user's own settings ----
  let client: WinRMClient | undefined;
  try {
    try {
      client = connect({ ...conn, onWarning: () => undefined });
    } catch (e) {
      const x = explain(e, ctx);
      add({
        id: 'round-trip',
        title: 'authenticated round trip',
        status: 'failed',
        detail: x.cause,
        ...(x.fix.length ? { fix: x.fix } : {}),
      });
    }
    const who = client && (await roundTrip(client, add, ctx, authName));
    if (o.secondHop) {
      if (!who || !client) add({ id: 'second-hop', title: 'second hop', status: 'skipped', detail: 'the first hop failed' });
      else
        add(
          await secondHopCheck(client, o.secondHop, {
            host,
            isWinrmTs,
            authName,
            kerberosDelegate: !!conn.kerberosDelegate,
            user: conn.username,
            who,
            ctx,
          }),
        );
    }
  } finally {
    client?.close();
  }
  return done();
}

function tlsCheck(t: TlsResult, conn: ConnectOptions, host: string): Check {
  const problems: string[] = [];
  const fix: string[] = [];
  const notes: string[] = [];
  let status: Status = 'ok';
  const worse = (s: Status) => {
    if (s === 'failed' || (s === 'warning' && status === 'ok')) status = s;
  };
  const now = Date.now();
  let pinned = false;
  if (conn.fingerprint) {
    const pin = parseCertificatePin(conn.fingerprint);
    const have = pin.algorithm === 'sha256' ? t.sha256!.slice(7) : t.sha1!.toLowerCase();
    pinned = Buffer.from(pin.digest).toString('hex') === have;
    if (pinned) notes.push('the certificate matches --fingerprint (pinned: chain and name are not needed)');
    else {
      worse('failed');
      problems.push(`the certificate does not match --fingerprint: the host presents ${t.sha256}`);
      fix.push(
        "a TLS-intercepting proxy, or the host has a new certificate: compare with the host's (Get-ChildItem " +
          'WSMan:\\localhost\\Listener\\*\\CertificateThumbprint)',
      );
    }
  }
  const trusted = pinned || conn.insecure;
  if (t.validTo && t.validTo.getTime() < now) {
    if (!trusted) worse('failed');
    else worse('warning');
    problems.push(`the certificate expired on ${t.validTo.toISOString()}`);
    fix.push(
      "renew the listener's certificate on the host, then Set-Item WSMan:\\localhost\\Listener\\<HTTPS " +
        'listener>\\CertificateThumbprint <new thumbprint>',
    );
  } else if (t.validFrom && t.validFrom.getTime() > now) {
    if (!trusted) worse('failed');
    problems.push(`the certificate is not valid before ${t.validFrom.toISOString()} (a clock out of step?)`);
  } else if (t.validTo && t.validTo.getTime() - now < 14 * 86400_000) {
    worse('warning');
    problems.push(`the certificate expires soon (${t.validTo.toISOString()})`);
  }
  if (!t.nameMatches) {
    if (!trusted) worse('failed');
    problems.push(`the certificate is not for ${host}: ${t.nameError ?? ''} (${t.subjectAltName ?? t.subject ?? 'no names'})`);
    const names = (t.subjectAltName ?? '').replace(/DNS:|IP Address:/g, '');
    fix.push(
      `connect by a name the certificate has (${names || 'see its subject'}), or keep this address and check the certificate ` +
        `for its name: --tls-server-name ${names.split(',')[0]?.trim() || 'NAME'}, or issue the listener a certificate for ` +
        `${host}`,
    );
  }
  if (!t.authorized && t.authorizationError !== 'CERT_HAS_EXPIRED') {
    const e = t.authorizationError ?? '';
    const why = /SELF_SIGNED/.test(e)
      ? 'self-signed (no CA this machine trusts issued it)'
      : /UNABLE_TO_(VERIFY|GET)/.test(e)
        ? 'issued by a CA this machine does not trust'
        : e;
    if (!trusted) worse('failed');
    problems.push(`the chain does not verify${conn.ca ? ' with --ca' : ''}: ${why} (${e})`);
    fix.push(
      'trust the issuing CA: --ca ca.pem (export it on the host: Export-Certificate), or pin this certificate: --fingerprint ' + t.sha256,
    );
  }
  if (conn.insecure && !pinned) {
    worse('warning');
    notes.push('--insecure: the certificate is not verified (anyone in between can read the password)');
    fix.push(`pin it instead: --fingerprint ${t.sha256}`);
  }
  if (t.protocol && /TLSv1(\.1)?$/.test(t.protocol)) {
    worse('warning');
    problems.push(`${t.protocol} is obsolete`);
    fix.push('enable TLS 1.2 on the host');
  }
  const facts =
    `${t.protocol}; subject ${t.subject ?? '?'}; issuer ${t.issuer ?? '?'}; valid until ${t.validTo?.toISOString() ?? '?'}; ` +
    `${t.sha256} (pin with --fingerprint; Windows thumbprint ${t.sha1})`;
  return {
    id: 'tls',
    title: 'TLS certificate',
    status,
    detail: [...problems, ...notes, facts].join('; '),
    ...(fix.length ? { fix } : {}),
    data: {
      protocol: t.protocol,
      subject: t.subject,
      issuer: t.issuer,
      subjectAltName: t.subjectAltName,
      validTo: t.validTo?.toISOString(),
      sha256: t.sha256,
      sha1: t.sha1,
      chainVerified: t.authorized,
      nameMatches: t.nameMatches,
    },
  };
}

function schemesCheck(offered: string[], conn: ConnectOptions, authName: string | undefined, https: boolean): Check {
  const lower = offered.map((s) => s.toLowerCase());
  const why = conn.auth
    ? `--auth ${conn.auth}`
    : conn.username
      ? 'the default with a user name: Negotiate (Kerberos when a ticket and an SPN are at hand, else NTLM)'
      : "no user name: the logged-on user's credentials if this process has any, else anonymous";
  const data = { offered, client: authName ?? 'anonymous' };
  const list = offered.length ? offered.join(', ') : 'none';
  if (!authName)
    return {
      id: 'auth-schemes',
      title: 'auth schemes',
      status: 'warning',
      detail: `the host offers ${list}; this client would connect anonymously (${why})`,
      fix: ['give credentials: -u DOMAIN\\user'],
      data,
    };
  if (authName === 'certificate')
    return {
      id: 'auth-schemes',
      title: 'auth schemes',
      status: 'ok',
      detail: `the host offers ${list}; this client uses certificate authentication (the certificate goes in the TLS handshake)`,
      data,
    };
  const scheme = getMechanism(authName)?.httpScheme ?? authName;
  const accepted = lower.includes(scheme.toLowerCase()) || (authName === 'ntlm' && lower.includes('negotiate'));
  if (!accepted) {
    const usable = offered.map((s) => s.toLowerCase()).filter((s) => ['negotiate', 'kerberos', 'credssp', 'basic'].includes(s));
    const fix: string[] = [];
    const alt = usable.find((s) => s !== 'basic') ?? usable[0];
    if (alt === 'basic' && !https)
      fix.push(
        'the host offers only Basic: use it over HTTPS, --https --auth basic (the HTTPS listener, port 5986); over HTTP Basic ' +
          'needs AllowUnencrypted on both sides',
      );
    else if (alt) fix.push(`--auth ${alt}`);
    fix.push(enableOnHost(SERVICE_AUTH_NAME[authName] ?? scheme));
    return {
      id: 'auth-schemes',
      title: 'auth schemes',
      status: 'failed',
      detail: `the host offers ${list}; this client would use ${scheme} (${why}), which the host does not accept`,
      fix,
      data,
    };
  }
  if (authName === 'basic' && !https) {
    if (!conn.allowUnencrypted) {
      return {
        id: 'auth-schemes',
        title: 'auth schemes',
        status: 'failed',
        detail: `the host offers ${list}; this client refuses Basic over plain HTTP: the password would cross the network in clear text`,
        fix: [
          '--https --auth basic (the HTTPS listener, port 5986)',
          lower.includes('negotiate') ? '--auth negotiate (encrypts over HTTP)' : '',
          '--allow-unencrypted (not recommended; the host must also have Set-Item WSMan:\\localhost\\Service\\AllowUnencrypted $true)',
        ].filter(Boolean),
        data,
      };
    }
    return {
      id: 'auth-schemes',
      title: 'auth schemes',
      status: 'warning',
      detail:
        `the host offers ${list}; Basic over plain HTTP (--allow-unencrypted): the password crosses the network in clear text, ` +
        `and the host must have AllowUnencrypted=true`,
      fix: ['--https --auth basic'],
      data,
    };
  }
  return {
    id: 'auth-schemes',
    title: 'auth schemes',
    status: 'ok',
    detail: `the host offers ${list}; this client uses ${scheme} (${why})`,
    data,
  };
}

function encryptionCheck(conn: ConnectOptions, authName: string | undefined, https: boolean): Check {
  const mode = conn.encryption ?? 'auto';
  const canWrap = authName !== undefined && authName !== 'basic' && authName !== 'certificate';
  if (https)
    return {
      id: 'encryption',
      title: 'message encryption',
      status: 'ok',
      detail: `HTTPS: TLS protects the messages (--encryption ${mode}${mode === 'always' ? ': also wrapped by the auth mechanism' : ''})`,
    };
  if (mode === 'never' || !canWrap) {
    return {
      id: 'encryption',
      title: 'message encryption',
      status: 'warning',
      detail:
        `${mode === 'never' ? '--encryption never' : `${authName ?? 'anonymous'} cannot encrypt`}: the messages cross plain HTTP ` +
        `in clear text; the host accepts that only with AllowUnencrypted=true`,
      fix: ['--encryption auto (Negotiate, Kerberos and CredSSP encrypt over HTTP), or --https'],
    };
  }
  return {
    id: 'encryption',
    title: 'message encryption',
    status: 'ok',
    detail: `plain HTTP, messages encrypted by ${authName} (--encryption ${mode})`,
  };
}

/** The config Get reply (Windows' element names, any namespace below config). */
export function parseConfig(root: XmlElement | undefined): ServiceConfig {
  const kid = (el: XmlElement | undefined, name: string) => el?.children.find((c) => c.local === name);
  const text = (el: XmlElement | undefined) => el?.text.trim();
  const num = (el: XmlElement | undefined) => {
    const t = text(el);
    return t && /^\d+$/.test(t) ? Number(t) : undefined;
  };
  const bool = (el: XmlElement | undefined) => {
    const t = text(el)?.toLowerCase();
    return t === undefined ? undefined : t === 'true';
  };
  const svc = kid(root, 'Service');
  const auth: Record<string, boolean> = {};
  for (const c of kid(svc, 'Auth')?.children ?? [])
    if (c.local !== 'CbtHardeningLevel') auth[c.local] = c.text.trim().toLowerCase() === 'true';
  const quotas: Record<string, number> = {};
  for (const [el, names] of [
    [svc, ['MaxConcurrentOperationsPerUser', 'MaxConnections']],
    [kid(root, 'Winrs'), ['MaxShellsPerUser', 'MaxProcessesPerShell', 'MaxMemoryPerShellMB', 'IdleTimeout']],
  ] as const) {
    for (const n of names) {
      const v = num(kid(el, n));
      if (v !== undefined) quotas[n] = v;
    }
  }
  return {
    maxEnvelopeSizeKb: num(kid(root, 'MaxEnvelopeSizekb')),
    maxTimeoutMs: num(kid(root, 'MaxTimeoutms')),
    allowUnencrypted: bool(kid(svc, 'AllowUnencrypted')),
    cbtHardeningLevel: text(kid(kid(svc, 'Auth'), 'CbtHardeningLevel')),
    auth,
    quotas,
  };
}

function configChecks(
  cfg: ServiceConfig,
  conn: ConnectOptions,
  authName: string | undefined,
  https: boolean,
  secondHop: boolean,
  host: string,
): Check[] {
  const out: Check[] = [];
  const authList = Object.entries(cfg.auth)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  out.push({
    id: 'service-auth',
    title: 'service auth (winrm/config/service/auth)',
    status: 'ok',
    detail: `${authList}; CbtHardeningLevel ${cfg.cbtHardeningLevel ?? '?'}`,
    data: { auth: cfg.auth, cbtHardeningLevel: cfg.cbtHardeningLevel },
  });
  // Get-WSManCredSSP's server-side answer
  const credssp = cfg.auth.CredSSP;
  if (credssp !== undefined) {
    const text = credssp
      ? 'This computer is configured to receive credentials from a remote client computer.'
      : 'This computer is not configured to receive credentials from a remote client computer.';
    const needed = authName === 'credssp';
    out.push({
      id: 'credssp-service',
      title: 'CredSSP on the service (Get-WSManCredSSP)',
      status: !credssp && needed ? 'failed' : !credssp && secondHop ? 'warning' : 'ok',
      detail:
        `CredSSP is ${credssp ? 'enabled' : 'disabled'} on the service: ` +
        `"${text}"${!credssp && !needed ? ' (needed only to delegate credentials for a second hop)' : ''}`,
      ...(!credssp ? { fix: [`on ${host}: Enable-WSManCredSSP -Role Server -Force`] } : {}),
      data: { enabled: credssp },
    });
  }
  if (cfg.allowUnencrypted !== undefined) {
    const clear = !https && ((conn.encryption ?? 'auto') === 'never' || authName === 'basic');
    const bad = clear && !cfg.allowUnencrypted;
    out.push({
      id: 'allow-unencrypted',
      title: 'AllowUnencrypted (winrm/config/service)',
      status: bad ? 'failed' : clear || cfg.allowUnencrypted ? 'warning' : 'ok',
      detail: bad
        ? `AllowUnencrypted is false on the service, and ${authName === 'basic' ? 'Basic over HTTP' : '--encryption never'} sends ` +
          `the messages in clear text: the host refuses every one of them (HTTP 401)`
        : `AllowUnencrypted is ${cfg.allowUnencrypted}` +
          (clear
            ? ': the messages cross the network in clear text'
            : cfg.allowUnencrypted
              ? ': the host also accepts clear-text messages (and Basic passwords) over HTTP from other clients'
              : ''),
      ...(!bad && !clear && cfg.allowUnencrypted
        ? { fix: ['on the host, unless a client needs it: Set-Item WSMan:\\localhost\\Service\\AllowUnencrypted $false'] }
        : {}),
      ...(bad
        ? {
            fix: [
              authName === 'basic'
                ? '--https --auth basic, or --auth negotiate'
                : 'drop --encryption never (auto: the auth mechanism encrypts the messages over HTTP)',
              'or --https',
              'or on the host (not recommended: everything in clear text): Set-Item WSMan:\\localhost\\Service\\AllowUnencrypted $true',
            ],
          }
        : {}),
      data: { allowUnencrypted: cfg.allowUnencrypted },
    });
  }
  if (cfg.cbtHardeningLevel) {
    const level = cfg.cbtHardeningLevel.toLowerCase();
    const binds = authName !== 'basic' && authName !== 'certificate';
    out.push({
      id: 'channel-binding',
      title: 'channel binding (CbtHardeningLevel)',
      status: 'ok',
      detail: !https
        ? `${cfg.cbtHardeningLevel}: not used over plain HTTP`
        : level === 'strict'
          ? 'Strict: channel binding is required over HTTPS; this client ' +
            (binds
              ? 'sends it (the hash of the certificate it sees): through a TLS-terminating proxy the authentication fails'
              : `does not need it with ${authName}`)
          : level === 'relaxed'
            ? `Relaxed: a channel binding is checked when sent (this client sends it over ` +
              `HTTPS${binds ? '' : ` with Negotiate/Kerberos/CredSSP, not with ${authName}`})`
            : `${cfg.cbtHardeningLevel}: channel bindings are not checked`,
    });
  }
  const q = cfg.quotas;
  const quotaText = Object.entries(q)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  out.push({
    id: 'limits',
    title: 'envelope size and quotas',
    status: 'ok',
    detail:
      `MaxEnvelopeSizekb ${cfg.maxEnvelopeSizeKb ?? '?'}, MaxTimeoutms ` + `${cfg.maxTimeoutMs ?? '?'}${quotaText ? `, ${quotaText}` : ''}`,
    data: { maxEnvelopeSizeKb: cfg.maxEnvelopeSizeKb, maxTimeoutMs: cfg.maxTimeoutMs, ...q },
  });
  return out;
}

/** whoami through WinRS (cmd on Windows, sh on winrm-ts serve; `whoami` exists on both). The identity, or undefined. */
async function roundTrip(
  client: WinRMClient,
  add: (c: Check) => Check,
  ctx: CauseContext,
  authName: string | undefined,
): Promise<string | undefined> {
  const t0 = Date.now();
  try {
    const r = await client.exec('whoami', [], { signal: AbortSignal.timeout(120_000) });
    const who = r.stdout.toString('utf8').replace(/\r/g, '').trim().split('\n').pop() ?? '';
    if (r.exitCode !== 0 || !who) {
      add({
        id: 'round-trip',
        title: 'authenticated round trip',
        status: 'warning',
        detail: `authenticated, but whoami exited ${r.exitCode}: ${r.stderr.toString('utf8').trim().slice(0, 300)}`,
      });
      return undefined;
    }
    add({
      id: 'round-trip',
      title: 'authenticated round trip',
      status: 'ok',
      detail:
        `authenticated via ${authName ?? 'anonymous'}; the host sees you as ${who} (whoami; ${Date.now() - t0} ms, ` +
        `${client.stats.requests} HTTP requests)`,
      data: { identity: who, ms: Date.now() - t0, requests: client.stats.requests },
    });
    return who;
  } catch (e) {
    const x = explain(e, ctx);
    add({
      id: 'round-trip',
      title: 'authenticated round trip',
      status: 'failed',
      detail: x.cause,
      ...(x.fix.length ? { fix: x.fix } : {}),
      data: { error: (e as { code?: string }).code },
    });
    return undefined;
  }
}

interface HopContext {
  host: string;
  isWinrmTs: boolean;
  authName: string | undefined;
  kerberosDelegate?: boolean;
  user: string | undefined;
  who: string;
  ctx: CauseContext;
}

/** From the host, reach `target` (the double hop) with no credentials given, and report who arrives. */
async function secondHopCheck(client: WinRMClient, hop: string, h: HopContext): Promise<Check> {
  const m = /^(https?:\/\/)?([A-Za-z0-9._:[\]-]+?)(\/wsman)?\/?$/i.exec(hop.trim());
  if (!m)
    return {
      id: 'second-hop',
      title: 'second hop',
      status: 'failed',
      detail: `--second-hop ${hop}: not a host[:port] (or https://host[:port])`,
    };
  const tls = /^https/i.test(m[1] ?? '');
  const target = m[2]!;
  const tp = parseHostPort(target);
  // winrm-ts serve: the host's processes have the winrm-ts client on PATH; Windows: PowerShell remoting
  const command = h.isWinrmTs
    ? `winrm-ts run -H ${target}${tls ? ' --https' : ''} -- whoami`
    : `powershell -NoProfile -NonInteractive -Command "Invoke-Command -ComputerName ` +
      `${tp.host}${tp.port ? ` -Port ${tp.port}` : ''}${tls ? ' -UseSSL' : ''} -ScriptBlock { whoami } -ErrorAction Stop"`;
  let out = '';
  let code = -1;
  try {
    const r = await client.exec(command, [], { signal: AbortSignal.timeout(120_000), rawArguments: true });
    out = (r.stdout.toString('utf8') + '\n' + r.stderr.toString('utf8')).replace(/\r/g, '').trim();
    code = r.exitCode;
  } catch (e) {
    const x = explain(e, h.ctx);
    return {
      id: 'second-hop',
      title: 'second hop',
      status: 'failed',
      detail: `could not run the hop on ${h.host}: ${x.cause}`,
      fix: x.fix,
    };
  }
  const last = out.split('\n').filter(Boolean).pop() ?? '';
  const anonymous = /ANONYMOUS LOGON/i.test(out) || (!h.isWinrmTs && code !== 0 && /Access is denied|0x80070005|AccessDenied/i.test(out));
  const data = { command, exitCode: code, output: out.slice(0, 2000) };
  if (code === 0 && last && !anonymous) {
    return {
      id: 'second-hop',
      title: 'second hop',
      status: 'ok',
      detail:
        `from ${h.host}, ${target} sees you as ${last}: your credentials reach the second ` +
        `hop${h.authName === 'credssp' ? ' (CredSSP delegated them)' : ''}`,
      data: { ...data, identity: last },
    };
  }
  // Windows words a hop without credentials in several ways (Access is denied, a Kerberos or WinRM client error): after
  // a network logon (not CredSSP, no forwarded ticket) a failed hop is the double hop unless shown otherwise
  const networkLogon = h.authName !== 'credssp' && !(h.authName === 'kerberos' || h.authName === 'negotiate' ? h.kerberosDelegate : false);
  const likely = !anonymous && code !== 0 && !h.isWinrmTs && networkLogon;
  if (anonymous || likely) {
    const user = h.user ?? 'DOMAIN\\user';
    return {
      id: 'second-hop',
      title: 'second hop',
      status: 'failed',
      detail: anonymous
        ? `from ${h.host}, ${target} sees NT AUTHORITY\\ANONYMOUS LOGON: the logon on ${h.host} (${h.authName ?? 'anonymous'}, a ` +
          `network logon) holds no credentials it can pass on — the double hop`
        : `from ${h.host}, reaching ${target} failed (exit ${code}: ${last.slice(0, 300)}); the logon on ${h.host} ` +
          `(${h.authName ?? 'anonymous'}, a network logon) holds no credentials it can pass on, so ${target} most likely saw NT ` +
          `AUTHORITY\\ANONYMOUS LOGON — the double hop`,
      fix: [
        `CredSSP (hands your password to ${h.host}): --auth credssp --delegate-to wsman/${h.host}; on ${h.host}: ` +
          `Enable-WSManCredSSP -Role Server -Force; ` +
          `on a Windows client: Enable-WSManCredSSP -Role Client -DelegateComputer ${h.host} -Force, or the GPO "Allow ` +
          `delegating fresh credentials" (Computer Configuration > Administrative Templates > System > Credentials Delegation) ` +
          `with the entry wsman/${h.host}`,
        `Kerberos delegation (no password leaves this machine): --auth kerberos --kerberos-delegate with a forwardable ticket ` +
          `(kinit -f), and ${h.host} trusted for delegation ` +
          `(ok-as-delegate: Set-ADComputer ${h.host} -TrustedForDelegation $true), or resource-based constrained delegation: ` +
          `Set-ADComputer ${tp.host} -PrincipalsAllowedToDelegateToAccount (Get-ADComputer ${h.host})`,
        `a RunAs / JEA session configuration on ${h.host} that runs as an account allowed on ${tp.host}: ` +
          `Register-PSSessionConfiguration -Name Hop -RunAsCredential ${user} ` +
          `(or a JEA file with -GroupManagedServiceAccount), then winrm-ts ps -H ${h.host} --configuration-name Hop ...`,
        `pass a credential into the script: Invoke-Command -ComputerName ${tp.host} -Credential (Get-Credential ${user}) { ... ` +
          `} on ${h.host} ` +
          `(with winrm-ts on ${h.host}: winrm-ts run -H ${target} -u ${user} with the password in WINRM_PASSWORD, never on the ` +
          `command line)`,
      ],
      data: { ...data, ...(anonymous ? { identity: 'NT AUTHORITY\\ANONYMOUS LOGON' } : {}) },
    };
  }
  return {
    id: 'second-hop',
    title: 'second hop',
    status: 'failed',
    detail: `from ${h.host}, reaching ${target} failed (exit ${code}): ${out.slice(-400)}`,
    data,
  };
}
