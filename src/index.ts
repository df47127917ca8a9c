/** winrm-ts public API. Keep it small; the CLI uses only what is exported here. */
export * from './errors.js';
export type { AuthContext, AcceptorContext, AcceptedIdentity, Credentials, ChannelBindings } from './auth/types.js';
// --- client: WS-Man + WinRS ---
export { connect, WinRMClient, endpointUrl, type ConnectOptions, type AuthName } from './client/client.js';
export { WinrsShell, WinrsCommand, quoteArg, commandLineParts, type ShellOpenOptions, type RunOptions } from './client/winrs.js';
export { HttpTransport, type EnvelopeExchange, type TransportStats, type TlsOptions } from './http/transport.js';
export { proxyFor, parseProxyUrl, noProxyMatches, openTunnel, type ProxySpec, type ProxyChoice } from './http/proxy.js';
export { CERTIFICATE_PROFILE, subjectAltNames, certificateLogonNames, type SubjectAltNames } from './auth/certificate.js';
export { WSManClient } from './wsman/client.js';
// --- the local endpoint ---
export { serve, type ServeOptions, type ServerHandle } from './server/server.js';
export { registerResource, WsmanFault, type ResourceHandler, type WsmanRequest } from './server/dispatch.js';
export { loadUsersFile, parseUsers, MemoryUserDatabase } from './server/users.js';
export { registerMechanism, registerAmbientAuth, mechanismNames, type AuthMechanism } from './auth/registry.js';
// --- CredSSP: delegation guard, contexts ---
export {
  CredSSPInitiator,
  CredSSPAcceptor,
  checkDelegation,
  matchesPattern,
  parseDelegateList,
  ntStatusText,
  DELEGATE_ENV,
  CREDSSP_VERSION,
} from './auth/credssp/index.js';
// --- CLIXML ---
export {
  serialize,
  serializeDocument,
  deserialize,
  deserializeDocument,
  deserializeDocumentItems,
  toPlain,
  ps,
  PSObject,
  PSPrimitive,
  PSDateTime,
  PSTimeSpan,
  PSSecureString,
  PSList,
  PSDict,
  ClixmlRefs,
  unprotectedSecureStringCipher,
  type PSValue,
  type ClixmlValue,
  type SecureStringCipher,
  type PlainValue,
  type SerializeOptions,
  type DeserializeOptions,
} from './clixml/index.js';
// --- PSRP: Session, host, transports, sans-IO core ---
export {
  Session,
  describe as describeRemoteError,
  type SessionOptions,
  type SessionCommonOptions,
  type ProcessSessionOptions,
  type WSManSessionOpenOptions,
  type SshSessionOpenOptions,
  type CustomSessionOptions,
  type SessionTransportFactory,
  type InvokeOptions,
  type InvokeEvent,
  type InvokeResult,
  type InvokeStreams,
} from './client/session.js';
export {
  answerHostCall,
  psCredential,
  nonInteractiveHost,
  type PSHostHandler,
  type PSHostUI,
  type PromptField,
  type PromptChoice,
  type CredentialAnswer,
} from './client/host.js';
export { ClientRunspacePool, ClientPipeline, type PSRPPayload, type ClientRunspacePoolOptions } from './psrp/pool.js';
export { RunspacePoolState, PSInvocationState } from './psrp/state.js';
export type { PSRPEvent, HostCall } from './psrp/events.js';
export type { PipelineSpec, CommandSpec, CommandArgument, HostInfoSpec } from './psrp/messages.js';
export { OutOfProcTransport, type DuplexLike, type OutOfProcOptions } from './remoting/outofproc.js';
export { spawnPwshTransport, findPwshExecutable } from './remoting/process.js';
export type { PoolTransport, PoolTransportHooks } from './remoting/transport.js';
// --- the double hop: logon-session broker and `winrm-ts demo` ---
export { runDemo, type DemoOptions, type DemoResult, type DemoStep } from './demo/story.js';
// --- PSRP over SSH: Session transport 'ssh' ---
export { connectSsh, defaultKnownHostsPath, parseJumpHost, type SshConnectOptions } from './remoting/ssh.js';
export { sshOptionsFrom, type SshSessionOptions } from './client/ssh-session.js';
export {
  parseKnownHosts,
  checkHostKey,
  fingerprintSha256,
  knownHostName,
  type KnownHostEntry,
  type HostKeyVerdict,
} from './remoting/ssh-known-hosts.js';
// --- PSRP over WinRM: Session transport 'wsman'; the endpoint's PowerShell resource ---
export { resourceUriFor, readServerMaxEnvelopeSize, type DisconnectedShell } from './remoting/wsman-pool.js';
export { WSManTransport, type WSManTransportOptions } from './remoting/wsman-transport.js';
export { createWSManTransport, connectionOptionsFrom, type WSManSessionOptions } from './client/wsman-session.js';
export { PsrpEndpoint, type PsrpEndpointOptions } from './server/psrp-shell.js';
export { loadSessionConfigs, parseSessionConfigs, type SessionConfiguration } from './server/psrp-config.js';
// --- many hosts: fan-out with a throttle, per-host deadlines and errors, results as one async stream ---
export { fanout, DEFAULT_THROTTLE, type FanoutEvent, type FanoutJob, type FanoutContext, type FanoutOptions } from './client/fanout.js';
export { parseHostPort } from './client/client.js';
export { matchesTrustedHost, hostTrust } from './client/trusted-hosts.js';
// --- file transfer: copy / fetch over PSRP (Session.copy / Session.fetch) ---
export {
  copyToRemote,
  fetchFromRemote,
  ProgressTracker,
  TransferError,
  PathNotFoundError,
  FileAccessDeniedError,
  DiskFullError,
  InvalidNameError,
  PathKindError,
  ChecksumMismatchError,
  SourceChangedError,
  chunkSizeFor,
  PARTIAL_SUFFIX,
  type CopyOptions,
  type CopySource,
  type FetchOptions,
  type FetchDestination,
  type TransferOptions,
  type TransferResult,
  type TransferredFile,
  type TransferEvent,
  type ProgressListener,
  type TransferDirection,
  type TransferReason,
  type TransferSide,
  type TransferSession,
} from './transfer/index.js';
export {
  WINRM_ERR_TRANSFER,
  WINRM_ERR_TRANSFER_NOT_FOUND,
  WINRM_ERR_TRANSFER_ACCESS_DENIED,
  WINRM_ERR_TRANSFER_DISK_FULL,
  WINRM_ERR_TRANSFER_INVALID_NAME,
  WINRM_ERR_TRANSFER_PATH_KIND,
  WINRM_ERR_TRANSFER_CHECKSUM,
  WINRM_ERR_TRANSFER_SOURCE_CHANGED,
} from './transfer/errors.js';
