/**
 * Certificate authentication: WS-Management's HTTPS mutual-authentication security profile (DSP0226 C.3.5,
 * MS-WSMV 3.1.4.1.x "Certificate"), both roles, as the Windows client sends it with -CertificateThumbprint and as
 * pywinrm, Ruby WinRM and Go winrm do:
 *   - the client presents its certificate in the TLS handshake (the transport's TLS options carry it), and
 *   - every HTTP request carries `Authorization: http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual`
 *     (the profile URI as the whole header value: no token).
 * The endpoint maps a certificate to a user the way WinRM's certificate mapping does (by the subject's UPN/SAN):
 * a users-file entry `DOMAIN\user:cert:NAME` admits a certificate that chains to a trusted client CA (`--client-ca`),
 * is in its validity period, is not revoked (`--crl`), and whose SAN UPN (otherName 1.3.6.1.4.1.311.20.2.3) — else
 * its e-mail SAN (rfc822Name) — equals NAME (case-insensitive). A certificate logon holds no password (like a
 * network logon: the second hop is ANONYMOUS LOGON, as on Windows).
 *
 * Sans-IO: the acceptor is given what the TLS layer learned (`peerCertificate` in the acceptor options: the DER
 * certificate and OpenSSL's verdict); this module never touches a socket.
 */
import type { AcceptedIdentity, AcceptorContext, AuthContext, Credentials, UserDatabase } from './types.js';
import type { AcceptorOptions, AuthMechanism, InitiatorOptions } from './types.js';
import { AccessDeniedError, EncryptionError, InvalidArgumentError, LocalProtocolError, RemoteProtocolError } from '../errors.js';
import { DerReader, TagClass, UniversalTag, children, decode } from '../asn1/der.js';

/** DSP0226 C.3.5: the HTTPS mutual (client certificate) security profile, sent as the Authorization header value. */
export const CERTIFICATE_PROFILE = 'http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual';
/** szOID_NT_PRINCIPAL_NAME: Microsoft's UPN otherName in subjectAltName. */
export const OID_UPN = '1.3.6.1.4.1.311.20.2.3';
const OID_SAN = '2.5.29.17';

export interface SubjectAltNames {
  /** otherName 1.3.6.1.4.1.311.20.2.3 (UTF8String) */
  upn: string[];
  /** rfc822Name */
  email: string[];
  /** dNSName */
  dns: string[];
}

/**
 * RFC 5280 4.2.1.6: the subjectAltName of a DER certificate (empty lists when it has none).
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }; tbsCertificate ::= SEQUENCE {
 * [0] version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, [1] issuerUID, [2] subjectUID,
 * [3] extensions }. Bad DER → RemoteProtocolError.
 */
export function subjectAltNames(certDer: Uint8Array): SubjectAltNames {
  const out: SubjectAltNames = { upn: [], email: [], dns: [] };
  const tbs = new DerReader(decode(certDer).value, 'Certificate').sequence();
  tbs.optionalExplicit(0); // version
  tbs.integerBytes(); // serialNumber
  tbs.sequence(); // signature
  tbs.sequence(); // issuer
  tbs.sequence(); // validity
  tbs.sequence(); // subject
  tbs.sequence(); // subjectPublicKeyInfo
  let exts: DerReader | undefined;
  while (!tbs.done) {
    const el = tbs.next();
    if (el.tag.cls === TagClass.Context && el.tag.number === 3 && el.tag.constructed)
      exts = new DerReader(el.value, 'Extensions').sequence();
  }
  if (!exts) return out;
  while (!exts.done) {
    const ext = exts.sequence();
    const id = ext.oid();
    if (ext.peek()?.tag.number === UniversalTag.Boolean && ext.peek()?.tag.cls === TagClass.Universal) ext.boolean();
    const value = ext.octetString();
    if (id !== OID_SAN) continue;
    const names = decode(value);
    if (names.tag.cls !== TagClass.Universal || names.tag.number !== UniversalTag.Sequence)
      throw new RemoteProtocolError('subjectAltName is not a SEQUENCE');
    for (const gn of children(names)) {
      if (gn.tag.cls !== TagClass.Context) continue;
      if (gn.tag.number === 0 && gn.tag.constructed) {
        // OtherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY } (IMPLICIT [0] in GeneralName)
        const r = new DerReader(gn.value, 'otherName');
        const typeId = r.oid();
        const v = r.explicit(0);
        if (typeId !== OID_UPN) continue;
        const inner = v.next();
        if (inner.tag.cls !== TagClass.Universal || inner.tag.number !== UniversalTag.UTF8String)
          throw new RemoteProtocolError('the UPN otherName is not a UTF8String');
        try {
          out.upn.push(new TextDecoder('utf-8', { fatal: true }).decode(inner.value));
        } catch {
          throw new RemoteProtocolError('the UPN otherName is not valid UTF-8');
        }
      } else if (gn.tag.number === 1 && !gn.tag.constructed) out.email.push(ascii(gn.value));
      else if (gn.tag.number === 2 && !gn.tag.constructed) out.dns.push(ascii(gn.value));
    }
  }
  return out;
}

function ascii(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
}

/** The names a certificate logs on with, in WinRM's order: its SAN UPNs, else its e-mail SANs. */
export function certificateLogonNames(certDer: Uint8Array): string[] {
  const san = subjectAltNames(certDer);
  return san.upn.length ? san.upn : san.email;
}

/** What the endpoint's TLS layer learned about the client certificate (read off a tls.TLSSocket). */
export interface PeerCertificate {
  /** the client's leaf certificate, DER */
  der?: Uint8Array;
  /** OpenSSL verified it against --client-ca (and --crl) */
  authorized: boolean;
  /** OpenSSL's reason when not authorized, e.g. CERT_HAS_EXPIRED, CERT_REVOKED, UNABLE_TO_GET_ISSUER_CERT_LOCALLY */
  authorizationError?: string;
  /** for messages: the subject */
  subject?: string;
}

/** Read the client certificate off a TLS socket (structural typing: no node:tls import here). */
export function peerCertificateOf(sock: unknown): PeerCertificate | undefined {
  const s = sock as {
    getPeerX509Certificate?: () => { raw: Buffer; subject: string } | undefined;
    authorized?: boolean;
    authorizationError?: Error | string;
  };
  if (typeof s?.getPeerX509Certificate !== 'function') return undefined;
  const x = s.getPeerX509Certificate();
  if (!x) return undefined;
  return {
    der: new Uint8Array(x.raw),
    authorized: !!s.authorized,
    authorizationError: s.authorizationError ? String(s.authorizationError) : undefined,
    subject: x.subject.replace(/\n/g, ', '),
  };
}

const REASONS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: 'it is not valid yet',
  CERT_REVOKED: "it is revoked (listed in the endpoint's CRL)",
  UNABLE_TO_GET_CRL: 'the endpoint has no CRL for its issuer',
  CRL_HAS_EXPIRED: "the endpoint's CRL has expired",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'it is not issued by a CA the endpoint trusts (--client-ca)',
  UNABLE_TO_GET_ISSUER_CERT: 'it is not issued by a CA the endpoint trusts (--client-ca)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed and not issued by a CA the endpoint trusts (--client-ca)',
  SELF_SIGNED_CERT_IN_CHAIN: 'it chains to a CA the endpoint does not trust (--client-ca)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'it is not issued by a CA the endpoint trusts (--client-ca)',
  CERT_SIGNATURE_FAILURE: 'its signature does not verify',
  INVALID_PURPOSE: 'it is not valid for client authentication (extendedKeyUsage)',
};

/** The client side: no token, the certificate rides in TLS. */
export class CertificateInitiator implements AuthContext {
  readonly protocol = 'certificate' as const;
  readonly httpScheme = CERTIFICATE_PROFILE;
  readonly canEncrypt = false;
  private done = false;
  get complete(): boolean {
    return this.done;
  }
  async step(): Promise<Uint8Array> {
    this.done = true;
    return new Uint8Array();
  }
  async wrapWinrm(): Promise<{ header: Uint8Array; data: Uint8Array }> {
    throw new EncryptionError('certificate authentication cannot encrypt messages: it runs over HTTPS only');
  }
  async unwrapWinrm(): Promise<Uint8Array> {
    throw new EncryptionError('certificate authentication cannot decrypt messages; the server sent an encrypted body');
  }
  newContext(): AuthContext {
    return new CertificateInitiator();
  }
}

/** The endpoint side: checks the TLS verdict, then maps the certificate to a users-file entry. */
export class CertificateAcceptor implements AcceptorContext {
  readonly protocol = 'certificate' as const;
  readonly httpScheme = CERTIFICATE_PROFILE;
  readonly canEncrypt = false;
  private id: AcceptedIdentity | undefined;
  constructor(
    private readonly userDb: UserDatabase,
    private readonly peer: PeerCertificate | undefined,
  ) {}
  get complete(): boolean {
    return this.id !== undefined;
  }
  get identity(): AcceptedIdentity | undefined {
    return this.id;
  }
  async step(): Promise<undefined> {
    if (this.id) throw new LocalProtocolError('certificate acceptor already complete');
    const p = this.peer;
    if (!p?.der) throw new AccessDeniedError('certificate authentication: the client presented no TLS client certificate', 'certificate');
    const who = p.subject ? ` (${p.subject})` : '';
    if (!p.authorized) {
      const code = p.authorizationError ?? 'not verified';
      throw new AccessDeniedError(
        `certificate authentication: the client certificate${who} was refused: ${REASONS[code] ?? code}`,
        'certificate',
      );
    }
    let names: string[];
    try {
      names = certificateLogonNames(p.der);
    } catch (e) {
      throw new AccessDeniedError(
        `certificate authentication: cannot read the client certificate's subjectAltName: ${(e as Error).message}`,
        'certificate',
      );
    }
    for (const n of names) {
      const rec = this.userDb.lookupCertificate?.(n);
      if (rec) {
        this.id = { domain: rec.domain, user: rec.user, logonType: 'network', mechanism: 'certificate' };
        return undefined;
      }
    }
    throw new AccessDeniedError(
      `certificate authentication: the client certificate${who} is not mapped to a user ` +
        `(${names.length ? `SAN ${names.join(', ')}` : 'it has no UPN or e-mail SAN'}; add DOMAIN\\user:cert:NAME to the users file)`,
      'certificate',
    );
  }
  async wrapWinrm(): Promise<{ header: Uint8Array; data: Uint8Array }> {
    throw new EncryptionError('certificate authentication cannot encrypt messages');
  }
  async unwrapWinrm(): Promise<Uint8Array> {
    throw new EncryptionError('certificate authentication cannot decrypt messages');
  }
  newContext(): AuthContext {
    return new CertificateAcceptor(this.userDb, this.peer);
  }
}

export const certificateMechanism: AuthMechanism = {
  protocol: 'certificate',
  httpScheme: CERTIFICATE_PROFILE,
  perRequest: true,
  initiator: (_creds: Credentials, opts: InitiatorOptions) => {
    if (opts.tls === false)
      throw new InvalidArgumentError(
        'certificate authentication works only over HTTPS (--https): the client certificate is presented in the TLS handshake',
      );
    return new CertificateInitiator();
  },
  acceptor: (opts: AcceptorOptions) => new CertificateAcceptor(opts.userDb, opts.peerCertificate as PeerCertificate | undefined),
};
