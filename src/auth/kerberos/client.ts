/**
 * Kerberos client exchanges (RFC 4120 3.1 AS, 3.3 TGS) over an injected KdcSend (the network one is src/kdc/network.ts):
 * AS-REQ with PA-ENC-TIMESTAMP pre-authentication from a password or a keytab (salt and s2kparams from
 * PA-ETYPE-INFO2), TGS-REQ with PA-TGS-REQ, cross-realm referrals, forwarded TGTs for delegation.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { KerberosError } from '../../errors.js';
import { debug } from '../../util/debug.js';
import { utf8 } from '../../util/bytes.js';
import { DEFAULT_ETYPES, decrypt, encrypt, isSupportedEtype, profile, stringToKey, type Key } from './crypto.js';
import { krbErrorToError, KrbErrorCode } from './errors.js';
import type { Credential, KeytabEntry, Principal } from './ccache.js';
import { samePrincipal } from './ccache.js';
import {
  ApOptions,
  KdcOptions,
  KeyUsage,
  MsgType,
  NameType,
  PaType,
  decodeEncKdcRepPart,
  decodeEtypeInfo2,
  decodeKdcRep,
  decodeKrbError,
  decodeMethodData,
  encodeApReq,
  encodeAuthenticator,
  encodeEncryptedData,
  encodeKdcReq,
  encodeKdcReqBody,
  encodePaEncTsEnc,
  messageTag,
  principalText,
  type EtypeInfo2Entry,
  type KdcRep,
  type PaData,
  type PrincipalName,
} from './messages.js';
import type { KdcSend } from '../types.js';

export type { KdcSend };

export interface ClientContext {
  send: KdcSend;
  now?: () => Date;
  etypes?: number[];
  signal?: AbortSignal;
}

const nonce = () => randomInt(1, 0x7fffffff);
const now = (c: ClientContext) => (c.now ? c.now() : new Date());

export function principalString(p: Principal): string {
  return principalText(p.name, p.realm);
}

/** Default salt (RFC 4120 4): realm || name components. */
export function defaultSalt(p: Principal): string {
  return p.realm + p.name.nameString.join('');
}

export type ClientSecret = { password: string } | { keytab: KeytabEntry[] };

function keyFor(secret: ClientSecret, client: Principal, etype: number, info?: EtypeInfo2Entry): Key | undefined {
  if ('password' in secret) {
    if (!isSupportedEtype(etype)) return undefined;
    const salt = info?.salt !== undefined ? info.salt : defaultSalt(client);
    return stringToKey(etype, secret.password, utf8(salt), info?.s2kparams);
  }
  const matches = secret.keytab.filter((e) => e.key.etype === etype && samePrincipal(e.principal, client));
  if (!matches.length) return undefined;
  return matches.sort((a, b) => b.kvno - a.kvno)[0]!.key;
}

function replyError(rep: Uint8Array, ctx: { client?: string; service?: string; now: Date }): KerberosError | undefined {
  if (messageTag(rep) !== 30) return undefined;
  return krbErrorToError(decodeKrbError(rep), ctx);
}

/** AS exchange: a TGT (or a ticket for `service`, default krbtgt/REALM) for `client`. */
export async function getInitialCredential(
  ctx: ClientContext,
  client: Principal,
  secret: ClientSecret,
  o: { service?: Principal; forwardable?: boolean; lifetimeSec?: number } = {},
): Promise<Credential> {
  const realm = client.realm;
  const service = o.service ?? { name: { nameType: NameType.SRV_INST, nameString: ['krbtgt', realm] }, realm };
  let etypes = ctx.etypes ?? DEFAULT_ETYPES;
  if ('keytab' in secret) {
    const have = new Set(secret.keytab.filter((e) => samePrincipal(e.principal, client)).map((e) => e.key.etype));
    if (!have.size)
      throw new KerberosError(
        `the keytab has no key for ${principalString(client)}: export one (kadmin ktadd -norandkey, or ktpass on Windows)`,
      );
    etypes = etypes.filter((e) => have.has(e));
  }
  const cname = principalString(client);
  const sendReq = async (padata: PaData[]) => {
    const n = nonce();
    const body = encodeKdcReqBody({
      kdcOptions: (o.forwardable !== false ? KdcOptions.FORWARDABLE : 0) | KdcOptions.RENEWABLE_OK,
      cname: client.name,
      realm,
      sname: service.name,
      till: new Date(now(ctx).getTime() + (o.lifetimeSec ?? 10 * 3600) * 1000),
      nonce: n,
      etypes,
    });
    const rep = await ctx.send(realm, encodeKdcReq(MsgType.AS_REQ, padata, body), { signal: ctx.signal });
    return { rep, n };
  };
  const pac: PaData = { type: PaType.PAC_REQUEST, value: Uint8Array.of(0x30, 0x05, 0xa0, 0x03, 0x01, 0x01, 0xff) };
  let { rep, n } = await sendReq([pac]);
  let usedKey: Key | undefined;
  let infos: EtypeInfo2Entry[] = [];
  if (messageTag(rep) === 30) {
    const err = decodeKrbError(rep);
    if (err.errorCode !== KrbErrorCode.KDC_ERR_PREAUTH_REQUIRED) throw krbErrorToError(err, { client: cname, now: now(ctx) });
    const md = err.eData ? decodeMethodData(err.eData) : [];
    const ei2 = md.find((p) => p.type === PaType.ETYPE_INFO2);
    infos = ei2 ? decodeEtypeInfo2(ei2.value) : [];
    const chosen = infos.find((i) => etypes.includes(i.etype)) ?? (infos.length ? undefined : { etype: etypes[0]! });
    if (!chosen)
      throw new KerberosError(
        `no common encryption type with the KDC for ${cname} (KDC offers ${infos.map((i) => i.etype).join(', ')})`,
        KrbErrorCode.KDC_ERR_ETYPE_NOSUPP,
      );
    usedKey = keyFor(secret, client, chosen.etype, chosen);
    if (!usedKey) throw new KerberosError(`no key for ${cname} with encryption type ${chosen.etype}`);
    const t = now(ctx);
    const ts = encodePaEncTsEnc(t, (t.getTime() % 1000) * 1000);
    const encTs = encodeEncryptedData({ etype: usedKey.etype, cipher: encrypt(usedKey, KeyUsage.AS_REQ_PA_ENC_TS, ts) });
    ({ rep, n } = await sendReq([{ type: PaType.ENC_TIMESTAMP, value: encTs }, pac]));
    const e2 = replyError(rep, { client: cname, now: now(ctx) });
    if (e2) throw e2;
  }
  const kr = decodeKdcRep(rep);
  if (kr.msgType !== MsgType.AS_REP) throw new KerberosError(`the KDC answered an AS-REQ with message type ${kr.msgType}`);
  // the reply's own ETYPE-INFO2 wins (RFC 4120 3.1.3)
  const repInfo = kr.padata.find((p) => p.type === PaType.ETYPE_INFO2);
  const info = repInfo
    ? decodeEtypeInfo2(repInfo.value).find((i) => i.etype === kr.encPart.etype)
    : infos.find((i) => i.etype === kr.encPart.etype);
  let key = usedKey && usedKey.etype === kr.encPart.etype && !repInfo ? usedKey : keyFor(secret, client, kr.encPart.etype, info);
  if (!key) throw new KerberosError(`the KDC encrypted its reply with encryption type ${kr.encPart.etype}, for which there is no key`);
  let plain: Uint8Array;
  try {
    plain = decrypt(key, KeyUsage.AS_REP_ENC_PART, kr.encPart.cipher);
  } catch (e) {
    if (usedKey && usedKey !== key) {
      key = usedKey;
      plain = decrypt(key, KeyUsage.AS_REP_ENC_PART, kr.encPart.cipher);
    } else
      throw new KerberosError(
        `cannot decrypt the KDC's reply for ${cname}: wrong password or stale keytab`,
        KrbErrorCode.KDC_ERR_PREAUTH_FAILED,
        { cause: e },
      );
  }
  return credentialFromRep(kr, plain, n, 'AS');
}

function credentialFromRep(kr: KdcRep, plain: Uint8Array, n: number, what: string): Credential {
  const p = decodeEncKdcRepPart(plain);
  if (p.nonce !== n) throw new KerberosError(`the KDC's ${what} reply carries the wrong nonce (replayed or forged reply)`);
  return {
    client: { name: kr.cname, realm: kr.crealm },
    server: { name: p.sname, realm: p.srealm },
    key: { etype: p.key.keytype, value: p.key.keyvalue },
    flags: p.flags,
    authtime: p.authtime,
    starttime: p.starttime ?? p.authtime,
    endtime: p.endtime,
    ...(p.renewTill ? { renewTill: p.renewTill } : {}),
    ticket: kr.ticket.raw,
  };
}

/** The AP-REQ inside PA-TGS-REQ: authenticator with a checksum over the request body (usage 6, key usage 7). */
function tgsApReq(tgt: Credential, bodyDer: Uint8Array, t: Date): Uint8Array {
  const p = profile(tgt.key.etype);
  const cksum = { cksumtype: p.checksumType, checksum: p.checksum(tgt.key.value, KeyUsage.TGS_REQ_AUTH_CKSUM, bodyDer) };
  const auth = encodeAuthenticator({
    crealm: tgt.client.realm,
    cname: tgt.client.name,
    cksum,
    cusec: (t.getTime() % 1000) * 1000,
    ctime: t,
  });
  return encodeApReq(0, tgt.ticket, { etype: tgt.key.etype, cipher: encrypt(tgt.key, KeyUsage.TGS_REQ_AUTHENTICATOR, auth) });
}

async function tgsOnce(ctx: ClientContext, tgt: Credential, service: Principal, kdcRealm: string, kdcOptions: number): Promise<Credential> {
  const n = nonce();
  const body = encodeKdcReqBody({
    kdcOptions,
    realm: service.realm,
    sname: service.name,
    till: tgt.endtime,
    nonce: n,
    etypes: ctx.etypes ?? DEFAULT_ETYPES,
  });
  const apreq = tgsApReq(tgt, body, now(ctx));
  const rep = await ctx.send(kdcRealm, encodeKdcReq(MsgType.TGS_REQ, [{ type: PaType.TGS_REQ, value: apreq }], body), {
    signal: ctx.signal,
  });
  const err = replyError(rep, { client: principalString(tgt.client), service: principalString(service), now: now(ctx) });
  if (err) throw err;
  const kr = decodeKdcRep(rep);
  if (kr.msgType !== MsgType.TGS_REP) throw new KerberosError(`the KDC answered a TGS-REQ with message type ${kr.msgType}`);
  const plain = decrypt(tgt.key, KeyUsage.TGS_REP_ENC_PART_SESSKEY, kr.encPart.cipher);
  return credentialFromRep(kr, plain, n, 'TGS');
}

/**
 * TGS exchange for `service` with `tgt`; follows cross-realm referrals (a krbtgt/OTHER@... ticket) up to 5 hops.
 * `forwarded`: ask for a forwarded TGT (service = krbtgt/REALM) — delegation.
 */
export async function getServiceCredential(
  ctx: ClientContext,
  tgt: Credential,
  service: Principal,
  o: { forwarded?: boolean } = {},
): Promise<Credential> {
  let current = tgt;
  let kdcRealm = tgt.server.name.nameString[1] ?? tgt.client.realm;
  const opts = KdcOptions.FORWARDABLE | KdcOptions.CANONICALIZE | (o.forwarded ? KdcOptions.FORWARDED : 0);
  if (o.forwarded && !(tgt.flags & 0x40000000)) {
    throw new KerberosError(
      `the TGT of ${principalString(tgt.client)} is not forwardable, so it cannot be delegated: get one with kinit -f ` +
        `(or forwardable = true in krb5.conf), and make sure the account may be delegated`,
      KrbErrorCode.KDC_ERR_BADOPTION,
    );
  }
  for (let hop = 0; hop < 5; hop++) {
    // after a referral the request names the realm the referral TGT is for (RFC 6806 8; what MIT and Windows send)
    const target = { ...service, realm: hop === 0 ? service.realm || kdcRealm : kdcRealm };
    const cred = await tgsOnce(ctx, current, target, kdcRealm, opts);
    const sn = cred.server.name.nameString;
    const isReferral = sn[0] === 'krbtgt' && sn.length === 2 && !(service.name.nameString[0] === 'krbtgt') && sn[1] !== kdcRealm;
    if (!isReferral) return cred;
    debug('kerberos: referral from %s to %s', kdcRealm, sn[1]);
    current = cred;
    kdcRealm = sn[1]!;
  }
  throw new KerberosError(`too many cross-realm referrals while looking for ${principalString(service)}`);
}

/** A fresh random subkey of the same type as `key`. */
export function newSubkey(etype: number): Key {
  return { etype, value: new Uint8Array(randomBytes(profile(etype).keySize)) };
}

export { ApOptions };
export type { PrincipalName };
