/** winrm-ts public API. Keep it small; the CLI uses only what is exported here. */
export * from './errors.js';
export type { AuthContext, AcceptorContext, AcceptedIdentity, Credentials, ChannelBindings } from './auth/types.js';
// --- client: WS-Man + WinRS (H1) ---
export { connect, WinRMClient, endpointUrl, type ConnectOptions, type AuthName } from './client/client.js';
export { WinrsShell, WinrsCommand, type ShellOpenOptions, type RunOptions } from './client/winrs.js';
export { HttpTransport, type EnvelopeExchange, type TransportStats, type TlsOptions } from './http/transport.js';
export { WSManClient } from './wsman/client.js';
// --- the local endpoint (H1) ---
export { serve, type ServeOptions, type ServerHandle } from './server/server.js';
export { registerResource, WsmanFault, type ResourceHandler, type WsmanRequest } from './server/dispatch.js';
export { loadUsersFile, parseUsers, MemoryUserDatabase } from './server/users.js';
export { registerMechanism, registerAmbientAuth, mechanismNames, type AuthMechanism } from './auth/registry.js';
