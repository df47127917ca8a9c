/** MS-NLMP 2.2.2.5 NEGOTIATE flags (uint32 LE). */
export const NegotiateFlags = {
  NEGOTIATE_56: 0x80000000,
  KEY_EXCH: 0x40000000,
  NEGOTIATE_128: 0x20000000,
  VERSION: 0x02000000,
  TARGET_INFO: 0x00800000,
  NON_NT_SESSION_KEY: 0x00400000,
  IDENTIFY: 0x00100000,
  EXTENDED_SESSIONSECURITY: 0x00080000,
  TARGET_TYPE_SHARE: 0x00040000,
  TARGET_TYPE_SERVER: 0x00020000,
  TARGET_TYPE_DOMAIN: 0x00010000,
  ALWAYS_SIGN: 0x00008000,
  LOCAL_CALL: 0x00004000,
  OEM_WORKSTATION_SUPPLIED: 0x00002000,
  OEM_DOMAIN_SUPPLIED: 0x00001000,
  ANONYMOUS: 0x00000800,
  NTLM: 0x00000200,
  LM_KEY: 0x00000080,
  DATAGRAM: 0x00000040,
  SEAL: 0x00000020,
  SIGN: 0x00000010,
  REQUEST_TARGET: 0x00000004,
  OEM: 0x00000002,
  UNICODE: 0x00000001,
} as const;

/** MS-NLMP 2.2.2.1 AV_PAIR AvId values. */
export const AvId = {
  EOL: 0,
  NbComputerName: 1,
  NbDomainName: 2,
  DnsComputerName: 3,
  DnsDomainName: 4,
  DnsTreeName: 5,
  Flags: 6,
  Timestamp: 7,
  SingleHost: 8,
  TargetName: 9,
  ChannelBindings: 10,
} as const;

/** MS-NLMP 2.2.2.1 MsvAvFlags bits. */
export const AvFlags = {
  CONSTRAINED: 0x1,
  MIC_PRESENT: 0x2,
  UNTRUSTED_SPN: 0x4,
} as const;

/** MS-NLMP 2.2.1 MessageType. */
export const MessageType = { NEGOTIATE: 1, CHALLENGE: 2, AUTHENTICATE: 3 } as const;

/** True when every bit of `flag` is set in `flags` (unsigned-safe). */
export function hasFlag(flags: number, flag: number): boolean {
  return (flags & flag) >>> 0 === flag >>> 0;
}

/** Human-readable flag names (debug output only). */
export function flagNames(flags: number): string[] {
  return Object.entries(NegotiateFlags)
    .filter(([, v]) => hasFlag(flags, v))
    .map(([k]) => k);
}
