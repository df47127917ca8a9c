/**
 * File transfer over PSRP (Copy-Item -ToSession / -FromSession): `copyToRemote` and `fetchFromRemote`, also
 * reachable as `Session.copy` / `Session.fetch`. The remote half is plain PowerShell (scripts.ts), so it works on
 * any PowerShell remoting endpoint (WinRM, SSH, a local pwsh), also where WinRS is disabled.
 */
export {
  copyToRemote,
  type CopyOptions,
  type CopySource,
  type TransferOptions,
  type TransferResult,
  type TransferredFile,
} from './upload.js';
export { fetchFromRemote, type FetchOptions, type FetchDestination } from './download.js';
export { ProgressTracker, type TransferEvent, type ProgressListener, type TransferDirection } from './progress.js';
export {
  TransferError,
  PathNotFoundError,
  FileAccessDeniedError,
  DiskFullError,
  InvalidNameError,
  PathKindError,
  ChecksumMismatchError,
  SourceChangedError,
  type TransferReason,
  type TransferSide,
} from './errors.js';
export { chunkSizeFor, type TransferSession } from './remote.js';
export { PARTIAL_SUFFIX } from './scripts.js';
