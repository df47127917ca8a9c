/**
 * The trusted-hosts policy of the client (the Windows WinRM client's TrustedHosts, WSMan:\localhost\Client\TrustedHosts):
 * when a list is given (ConnectOptions.trustedHosts), credentials that do not prove who the server is — Basic, NTLM,
 * Negotiate falling back to NTLM, CredSSP with NTLM inside — are sent only to hosts that match the list, unless the
 * host's identity is proven otherwise: a verified TLS certificate (HTTPS without `insecure`, or a pinned fingerprint)
 * or Kerberos. No list (undefined) = no policy (every host is allowed, as before).
 *
 * Patterns, case-insensitive, matched against the host connected to (no port): `*` (every host), `*.corp.example`,
 * `192.168.1.*` (`*` stands for any run of characters), `<local>` (names without a dot), or an
 * exact name / address (`[::1]` and `::1` are the same).
 */
import { UntrustedHostError } from '../errors.js';

/** Does `host` (no port) match one pattern of the list? */
export function matchesTrustedHost(host: string, patterns: readonly string[]): boolean {
  const h = unbracket(host.trim().toLowerCase());
  if (!h) return false;
  for (const raw of patterns) {
    const p = unbracket(raw.trim().toLowerCase());
    if (!p) continue;
    if (p === '*') return true;
    if (p === '<local>') {
      if (!h.includes('.') && !h.includes(':')) return true;
      continue;
    }
    if (!p.includes('*')) {
      if (p === h) return true;
      continue;
    }
    const re = new RegExp(
      `^${p
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
    if (re.test(h)) return true;
  }
  return false;
}

function unbracket(s: string): string {
  return s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
}

/** Split a list given as text ("a, b,c" as in WSMan:\localhost\Client\TrustedHosts) or an array. */
export function trustedHostsList(v: string | readonly string[]): string[] {
  return (typeof v === 'string' ? v.split(',') : [...v]).map((s) => s.trim()).filter(Boolean);
}

export interface TrustInput {
  /** the host connected to, without the port */
  host: string;
  https?: boolean;
  insecure?: boolean;
  fingerprint?: string;
  trustedHosts?: readonly string[];
  /** how the setting is named in errors (default `ConnectOptions.trustedHosts`) */
  trustedHostsSource?: string;
}

/**
 * 'no-policy': no list given; 'proven': HTTPS with a verified or pinned certificate; 'trusted': the host matches
 * the list; 'untrusted': only Kerberos (or a certificate logon) may be used.
 */
export function hostTrust(o: TrustInput): 'no-policy' | 'proven' | 'trusted' | 'untrusted' {
  if (o.trustedHosts === undefined) return 'no-policy';
  if (o.https && (!o.insecure || o.fingerprint)) return 'proven';
  return matchesTrustedHost(o.host, o.trustedHosts) ? 'trusted' : 'untrusted';
}

/** The refusal: what was not sent, where, why, and the ways out. */
export function untrustedHostError(o: TrustInput, what: string): UntrustedHostError {
  const source = o.trustedHostsSource ?? 'ConnectOptions.trustedHosts';
  const list = o.trustedHosts ?? [];
  const shown = list.length
    ? list
        .slice(0, 6)
        .map((p) => JSON.stringify(p))
        .join(', ') + (list.length > 6 ? `, … (${list.length} entries)` : '')
    : 'empty';
  const why = o.https ? 'HTTPS with certificate verification off (--insecure)' : 'plain HTTP';
  return new UntrustedHostError(
    `refused to send ${what} to ${o.host}: nothing proves this host's identity (${why}, no Kerberos) and it is not in ` +
      `${source} (${shown}). If you trust ${o.host}, add ${JSON.stringify(o.host)} (or a pattern such as "*.corp.example") to ${source}; ` +
      'or connect with --https and a verified certificate (--ca FILE, --fingerprint, --tls-server-name NAME), or use ' +
      'Kerberos (--auth kerberos)',
    o.host,
  );
}
