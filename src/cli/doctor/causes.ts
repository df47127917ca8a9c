/**
 * Errors and WS-Man faults → the cause in a PowerShell user's words and the fix (flags of this client, PowerShell
 * commands and settings on the host). A table by fault code, then the error classes (src/errors.ts). No I/O.
 */
import {
  AccessDeniedError,
  AuthError,
  ConnectError,
  CredSSPError,
  DelegationRefusedError,
  EncryptionError,
  HttpStatusError,
  KerberosError,
  ProxyError,
  TimeoutError,
  TlsError,
  WSManFaultError,
} from '../../errors.js';

export interface Explained {
  cause: string;
  fix: string[];
}

export interface CauseContext {
  https: boolean;
  /** the mechanism the client used (negotiate, ntlm, kerberos, credssp, basic, certificate) */
  auth?: string;
  encryption?: 'auto' | 'always' | 'never';
  /** the bare host name (no port) */
  host: string;
}

/** Windows' WS-Man fault codes (winerror.h / MS-WSMV) this tool can name a cause for. */
const FAULTS: Record<number, (e: WSManFaultError) => Explained> = {
  // ERROR_WSMAN_QUOTA_MAX_SHELLS 0x803381A5
  2150859173: () => ({
    cause: 'quota hit: this user already has MaxShellsPerUser shells open on the host (winrm/config/winrs MaxShellsPerUser)',
    fix: [
      'close the shells left open (Get-PSSession -ComputerName HOST | Remove-PSSession; or end the clients that hold them)',
      'or raise the quota on the host: Set-Item WSMan:\\localhost\\Shell\\MaxShellsPerUser 50 (winrm-ts serve: --max-shells-per-user)',
    ],
  }),
  // ERROR_WSMAN_QUOTA_MAX_OPERATIONS 0x803381A6
  2150859174: () => ({
    cause: 'quota hit: this user has MaxConcurrentOperationsPerUser requests in progress on the host (winrm/config/service)',
    fix: [
      'wait for (or stop) the other operations of this user',
      'or raise it on the host: Set-Item WSMan:\\localhost\\Service\\MaxConcurrentOperationsPerUser 1500',
    ],
  }),
  // ERROR_NOT_ENOUGH_QUOTA from a shell's job object (MaxProcessesPerShell / MaxMemoryPerShellMB)
  2147944216: () => ({
    cause: 'quota hit: the shell reached MaxProcessesPerShell or MaxMemoryPerShellMB (winrm/config/winrs)',
    fix: [
      'Set-Item WSMan:\\localhost\\Shell\\MaxProcessesPerShell 50, Set-Item WSMan:\\localhost\\Shell\\MaxMemoryPerShellMB 2048 ' +
        '(and the plug-in quotas: Set-PSSessionConfiguration -MaximumReceivedDataSizePerCommandMB ...)',
    ],
  }),
  // ERROR_ACCESS_DENIED from WS-Man (the listener accepted the logon, the resource did not)
  2147942405: () => ({
    cause:
      'the host authenticated the user but refused the request: the user may not use this resource (on Windows, only members of ' +
      'Administrators and Remote Management Users may use WinRM; winrm/config is readable by administrators only)',
    fix: [
      'add the user on the host: Add-LocalGroupMember -Group "Remote Management Users" -Member DOMAIN\\user',
      'or grant it on the session configuration: Set-PSSessionConfiguration Microsoft.PowerShell -ShowSecurityDescriptorUI',
      'a local administrator account other than the built-in one connecting over the network also needs ' +
        'LocalAccountTokenFilterPolicy=1 (HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System)',
    ],
  }),
  // ERROR_WSMAN_INVALID_RESOURCE_URI 0x80338000
  2150858752: () => ({
    cause: 'the host does not know this resource (an unknown session configuration or shell URI)',
    fix: ['check --configuration-name (Get-PSSessionConfiguration on the host lists them)'],
  }),
  // ERROR_WSMAN_MAX_ENVELOPE_SIZE_EXCEEDED 0x80338029 (w:EncodingLimit)
  2150858793: () => ({
    cause: 'a message was larger than the host accepts (MaxEnvelopeSizekb)',
    fix: ['raise it on the host: Set-Item WSMan:\\localhost\\MaxEnvelopeSizekb 8192 (winrm-ts serve: --max-envelope-size)'],
  }),
  // ERROR_WSMAN_OPERATION_TIMEDOUT 0x80338029 is shared by w:TimedOut on some versions; the subcode decides below
};

/** What went wrong and what to do, for any error a connection or a command can raise. */
export function explain(e: unknown, c: CauseContext): Explained {
  const msg = (e as Error)?.message ?? String(e);
  if (e instanceof WSManFaultError) {
    const byCode = e.wsmanFaultCode !== undefined ? FAULTS[e.wsmanFaultCode] : undefined;
    if (/TimedOut$/.test(e.faultSubcode ?? ''))
      return {
        cause: `the host did not finish the operation within OperationTimeout: ${msg}`,
        fix: ['a busy host; retry, or raise --operation-timeout'],
      };
    if (/EncodingLimit$/.test(e.faultSubcode ?? '')) return FAULTS[2150858793]!(e);
    if (/QuotaLimit$/.test(e.faultSubcode ?? '') && !byCode)
      return {
        cause: `a quota of the host was hit: ${msg}`,
        fix: ['winrm get winrm/config/winrs and winrm/config/service on the host show the quotas'],
      };
    if (byCode) {
      const x = byCode(e);
      return { cause: `${x.cause} (fault ${e.wsmanFaultCode}: ${(e.reason ?? msg).trim()})`, fix: x.fix };
    }
    return { cause: `the host answered with a WS-Man fault: ${msg}`, fix: [] };
  }
  if (e instanceof DelegationRefusedError) {
    return {
      cause: msg,
      fix: [
        `--delegate-to wsman/${c.host} (on Windows the same list is the GPO "Allow delegating fresh credentials" entry ` +
          `wsman/${c.host}, or Enable-WSManCredSSP -Role Client -DelegateComputer ${c.host})`,
      ],
    };
  }
  if (e instanceof CredSSPError) {
    return {
      cause: `CredSSP failed: ${msg}`,
      fix: [
        'on the host: Enable-WSManCredSSP -Role Server -Force',
        'CredSSP needs the user name and password (-u DOMAIN\\user -p ... or WINRM_PASSWORD)',
      ],
    };
  }
  if (e instanceof KerberosError) {
    return {
      cause: `Kerberos failed: ${msg}`,
      fix: [
        'Kerberos needs a host name with an SPN (HTTP/host), not an IP address: connect by name, or --spn HTTP/name',
        'a ticket: kinit user@REALM, or -u user@REALM -p ...',
      ],
    };
  }
  if (e instanceof AccessDeniedError) {
    if (/ANONYMOUS LOGON/.test(msg)) return { cause: msg, fix: ['give credentials: -u DOMAIN\\user (-p, or WINRM_PASSWORD)'] };
    const fix = ['check the user name (DOMAIN\\user or user@domain), the domain and the password'];
    if (c.https && c.auth !== 'basic' && c.auth !== 'certificate') {
      fix.push(
        'if the password is right: the channel binding did not match (CbtHardeningLevel): a TLS-terminating proxy or load ' +
          'balancer sits in between; ' +
          'connect to the host directly, or terminate TLS on the host, or on the host Set-Item ' +
          'WSMan:\\localhost\\Service\\Auth\\CbtHardeningLevel Relaxed (only helps clients that send no binding)',
      );
    }
    if (!c.https && c.encryption === 'never') {
      fix.push(
        '--encryption never sends the messages in clear text: the host refuses them unless AllowUnencrypted is true (Set-Item ' +
          'WSMan:\\localhost\\Service\\AllowUnencrypted $true — not recommended); drop --encryption never, or use --https',
      );
    }
    if (c.auth === 'basic' && !c.https)
      fix.unshift(
        'Basic over plain HTTP is refused while the service has AllowUnencrypted=false: use --https --auth basic (or, not ' +
          'recommended, on the host Set-Item WSMan:\\localhost\\Service\\AllowUnencrypted $true)',
      );
    if (c.auth === 'basic')
      fix.push('Basic works only for local accounts on Windows (not domain accounts); use --auth negotiate for a domain user');
    fix.push('a local administrator (not the built-in Administrator) over the network: LocalAccountTokenFilterPolicy=1 on the host');
    return { cause: msg, fix };
  }
  if (e instanceof AuthError) {
    return { cause: msg, fix: [] };
  }
  if (e instanceof EncryptionError) {
    return {
      cause: `message encryption: ${msg}`,
      fix: ['over HTTP the host expects encrypted messages: keep --encryption auto, or use --https'],
    };
  }
  if (e instanceof TlsError) {
    return {
      cause: `TLS: ${msg}`,
      fix: [
        'trust the certificate: --ca FILE (the issuing CA, PEM) or pin it: --fingerprint SHA256:... (doctor prints it)',
        'an expired or wrong-name certificate is replaced on the host: New-SelfSignedCertificate / a CA certificate, then ' +
          'Set-Item WSMan:\\localhost\\Listener\\<listener>\\CertificateThumbprint',
      ],
    };
  }
  if (e instanceof ProxyError) return { cause: `proxy: ${msg}`, fix: ['--proxy "" to go direct, or --noproxy HOST'] };
  if (e instanceof TimeoutError)
    return {
      cause: `timeout: ${msg}`,
      fix: ['a firewall that drops packets, or a busy host: Test-NetConnection HOST -Port PORT; raise --connect-timeout / --read-timeout'],
    };
  if (e instanceof ConnectError)
    return {
      cause: msg,
      fix: ['on the host: Enable-PSRemoting -Force (or winrm quickconfig); the firewall rule "Windows Remote Management (HTTP-In)"'],
    };
  if (e instanceof HttpStatusError) {
    const s = e.status;
    if (s === 500)
      return {
        cause: `HTTP 500 without a WS-Man fault: ${msg}`,
        fix: ["the service failed; see the host's event log (Microsoft-Windows-WinRM/Operational)"],
      };
    if (s === 503)
      return { cause: `the host refused the connection (HTTP 503): ${msg}`, fix: ['too many connections (MaxConnections); retry later'] };
    return { cause: msg, fix: [] };
  }
  return { cause: msg, fix: [] };
}
