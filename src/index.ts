/** winrm-ts public API. Keep it small; the CLI uses only what is exported here. */
export * from './errors.js';
export type { AuthContext, AcceptorContext, AcceptedIdentity, Credentials, ChannelBindings } from './auth/types.js';
