/**
 * NTLM session security with extended session security (MS-NLMP 3.4.4.2 SEAL/SIGN with ESS, 3.4.2 / 3.4.3):
 * per-direction RC4 handles and sequence numbers, and the reset SPNEGO performs after the mechListMIC (MS-NLMP 3.4; RFC 4178 5).
 */
import { AuthError, EncryptionError } from '../../errors.js';
import { RC4 } from '../../crypto/rc4.js';
import { bytesEqual } from '../../util/bytes.js';
import { hmacMd5, sealKey, signKey } from './crypto.js';
import { NegotiateFlags as F, hasFlag } from './flags.js';

/** MS-NLMP 2.2.2.9.1 NTLMSSP_MESSAGE_SIGNATURE with ESS: Version(1) || Checksum(8) || SeqNum(4). */
export const SIGNATURE_LENGTH = 16;

export class NtlmSession {
  private readonly signOut: Uint8Array;
  private readonly signIn: Uint8Array;
  private readonly sealOut: Uint8Array;
  private readonly sealIn: Uint8Array;
  private rc4Out!: RC4;
  private rc4In!: RC4;
  private readonly keyExch: boolean;
  private seqOut = 0;
  private seqIn = 0;

  /** `role` decides which magic constants go out (client-to-server for the initiator) and which come in. */
  constructor(exportedSessionKey: Uint8Array, flags: number, role: 'initiator' | 'acceptor') {
    if (!hasFlag(flags, F.EXTENDED_SESSIONSECURITY)) {
      throw new AuthError(
        'the NTLM peer did not negotiate extended session security (NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY); ' +
          'signing and sealing without it are not supported',
      );
    }
    const bits: 128 | 56 | 40 = hasFlag(flags, F.NEGOTIATE_128) ? 128 : hasFlag(flags, F.NEGOTIATE_56) ? 56 : 40;
    const out = role === 'initiator' ? 'client' : 'server';
    const inn = role === 'initiator' ? 'server' : 'client';
    this.signOut = signKey(exportedSessionKey, out);
    this.signIn = signKey(exportedSessionKey, inn);
    this.sealOut = sealKey(exportedSessionKey, out, bits);
    this.sealIn = sealKey(exportedSessionKey, inn, bits);
    this.keyExch = hasFlag(flags, F.KEY_EXCH);
    this.resetHandles();
  }

  /**
   * Re-initialise RC4 handles from the seal keys; the sequence numbers carry on (what SPNEGO does after signing /
   * verifying the mechListMIC: pyspnego `_reset_ntlm_crypto_state`, MIT's GSS_C_NTLMSSP_RESET_CRYPTO).
   */
  resetHandles(which: 'out' | 'in' | 'both' = 'both'): void {
    if (which !== 'in') this.rc4Out = new RC4(this.sealOut);
    if (which !== 'out') this.rc4In = new RC4(this.sealIn);
  }

  /** Next outgoing / incoming sequence numbers (tests and diagnostics). */
  get sequence(): { out: number; in: number } {
    return { out: this.seqOut, in: this.seqIn };
  }

  private mac(key: Uint8Array, handle: RC4, seq: number, msg: Uint8Array): Uint8Array {
    const seqb = new Uint8Array(4);
    new DataView(seqb.buffer).setUint32(0, seq >>> 0, true);
    let checksum = hmacMd5(key, seqb, msg).subarray(0, 8);
    if (this.keyExch) checksum = handle.update(checksum);
    const sig = new Uint8Array(SIGNATURE_LENGTH);
    sig[0] = 1;
    sig.set(checksum, 4);
    sig.set(seqb, 12);
    return sig;
  }

  /** GSS_WrapEx with confidentiality (MS-NLMP 3.4.3): seal first, then sign the plaintext with the same RC4 stream. */
  wrap(plaintext: Uint8Array): { signature: Uint8Array; sealed: Uint8Array } {
    const sealed = this.rc4Out.update(plaintext);
    const signature = this.mac(this.signOut, this.rc4Out, this.seqOut, plaintext);
    this.seqOut = (this.seqOut + 1) >>> 0;
    return { signature, sealed };
  }

  /** GSS_UnwrapEx: unseal, then verify the signature against the expected incoming sequence number. */
  unwrap(signature: Uint8Array, sealed: Uint8Array): Uint8Array {
    if (signature.length !== SIGNATURE_LENGTH)
      throw new EncryptionError(`NTLM signature must be ${SIGNATURE_LENGTH} bytes, got ${signature.length}`);
    const plaintext = this.rc4In.update(sealed);
    const expected = this.mac(this.signIn, this.rc4In, this.seqIn, plaintext);
    if (!bytesEqual(expected, signature)) {
      throw new EncryptionError(
        `NTLM message signature does not verify (expected sequence ${this.seqIn}): the message was altered, or the ` +
          `connection's security context is out of step; re-authenticate`,
      );
    }
    this.seqIn = (this.seqIn + 1) >>> 0;
    return plaintext;
  }

  /** Account for an incoming signature that was never seen (the SPNEGO acceptor MIC the transport dropped). */
  skipIncoming(): void {
    this.seqIn = (this.seqIn + 1) >>> 0;
  }

  /** GSS_GetMIC (MS-NLMP 3.4.4.2): signature only. */
  sign(msg: Uint8Array): Uint8Array {
    const sig = this.mac(this.signOut, this.rc4Out, this.seqOut, msg);
    this.seqOut = (this.seqOut + 1) >>> 0;
    return sig;
  }

  /** GSS_VerifyMIC; throws AuthError when the signature does not match. */
  verify(msg: Uint8Array, signature: Uint8Array): void {
    const expected = signature.length === SIGNATURE_LENGTH ? this.mac(this.signIn, this.rc4In, this.seqIn, msg) : undefined;
    if (!expected || !bytesEqual(expected, signature))
      throw new AuthError('NTLM MIC over the SPNEGO mechanism list does not verify (tampered negotiation?)');
    this.seqIn = (this.seqIn + 1) >>> 0;
  }
}
