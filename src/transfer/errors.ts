/**
 * Typed errors of copy / fetch. The remote scripts (src/transfer/scripts.ts) throw `WTX1|reason|path|message`;
 * `remoteTransferError` turns that into one of these classes, and local file-system errors go through
 * `localTransferError`. Every message says which side, which path, and what to try.
 */
import { WinRMError, type ErrorOptions } from '../errors.js';

export type TransferSide = 'local' | 'remote';
export type TransferReason =
  'not-found' | 'access-denied' | 'disk-full' | 'invalid-name' | 'is-directory' | 'not-a-directory' | 'checksum' | 'changed' | 'io';

/** Transfer error codes (docs/errors.md). */
export const WINRM_ERR_TRANSFER = 'WINRM_ERR_TRANSFER';
export const WINRM_ERR_TRANSFER_NOT_FOUND = 'WINRM_ERR_TRANSFER_NOT_FOUND';
export const WINRM_ERR_TRANSFER_ACCESS_DENIED = 'WINRM_ERR_TRANSFER_ACCESS_DENIED';
export const WINRM_ERR_TRANSFER_DISK_FULL = 'WINRM_ERR_TRANSFER_DISK_FULL';
export const WINRM_ERR_TRANSFER_INVALID_NAME = 'WINRM_ERR_TRANSFER_INVALID_NAME';
export const WINRM_ERR_TRANSFER_PATH_KIND = 'WINRM_ERR_TRANSFER_PATH_KIND';
export const WINRM_ERR_TRANSFER_CHECKSUM = 'WINRM_ERR_TRANSFER_CHECKSUM';
export const WINRM_ERR_TRANSFER_SOURCE_CHANGED = 'WINRM_ERR_TRANSFER_SOURCE_CHANGED';

export class TransferError extends WinRMError {
  override readonly code: string = WINRM_ERR_TRANSFER;
  constructor(
    message: string,
    readonly side: TransferSide,
    readonly path: string,
    readonly reason: TransferReason,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
/** The path (or its parent directory) does not exist. */
export class PathNotFoundError extends TransferError {
  override readonly code: string = WINRM_ERR_TRANSFER_NOT_FOUND;
}
/** The file system refused access (permissions, read-only, a file locked by another process). */
export class FileAccessDeniedError extends TransferError {
  override readonly code: string = WINRM_ERR_TRANSFER_ACCESS_DENIED;
}
/** No space left on the device / quota exceeded. */
export class DiskFullError extends TransferError {
  override readonly code: string = WINRM_ERR_TRANSFER_DISK_FULL;
}
/** The file system refuses the name (characters, reserved names, length). */
export class InvalidNameError extends TransferError {
  override readonly code: string = WINRM_ERR_TRANSFER_INVALID_NAME;
}
/** A directory is where a file is expected (`reason` 'is-directory') or a file where a directory is expected ('not-a-directory'). */
export class PathKindError extends TransferError {
  override readonly code: string = WINRM_ERR_TRANSFER_PATH_KIND;
}
/** The SHA-256 of the bytes written differs from the SHA-256 of the bytes read: nothing was renamed into place. */
export class ChecksumMismatchError extends TransferError {
  override readonly code: string = WINRM_ERR_TRANSFER_CHECKSUM;
  constructor(
    message: string,
    side: TransferSide,
    path: string,
    readonly expected: string,
    readonly actual: string,
    options?: ErrorOptions,
  ) {
    super(message, side, path, 'checksum', options);
  }
}
/** The source changed (size) while it was transferred. */
export class SourceChangedError extends TransferError {
  override readonly code: string = WINRM_ERR_TRANSFER_SOURCE_CHANGED;
}

const HINT: Record<TransferReason, string> = {
  'not-found': 'check the path (and that its parent directory exists)',
  'access-denied': 'check the permissions of the path and that no other process holds the file',
  'disk-full': 'free some space (or pick another volume) and run the same command again: it resumes',
  'invalid-name':
    'the file system refuses this name (characters such as <>:"|?* on Windows, reserved names, or its length): rename the source',
  'is-directory': 'a directory is in the way: give a file path, or remove the directory',
  'not-a-directory': 'a file is in the way: give a directory path, or remove the file',
  checksum: 'the data was damaged on the way or on disk; run the same command again',
  changed: 'the file changed while it was transferred; run the same command again once it is stable',
  io: 'run the same command again; a partial file is kept and resumed',
};

export function transferError(side: TransferSide, reason: TransferReason, path: string, detail: string, cause?: unknown): TransferError {
  const where = `${side} ${path ? `'${path}'` : 'path'}`;
  const what: Record<TransferReason, string> = {
    'not-found': `${where} does not exist`,
    'access-denied': `access to the ${where} is denied`,
    'disk-full': `no space left for the ${where}`,
    'invalid-name': `the ${side} file system refuses the name ${path ? `'${path}'` : ''}`.trimEnd(),
    'is-directory': `the ${where} is a directory, a file was expected`,
    'not-a-directory': `the ${where} is not a directory`,
    checksum: `SHA-256 mismatch for the ${where}`,
    changed: `the ${where} changed during the transfer`,
    io: `I/O error on the ${where}`,
  };
  const msg = `${what[reason]}${detail ? ` (${detail.trim().replace(/\.$/, '')})` : ''}: ${HINT[reason]}`;
  const opts = cause === undefined ? undefined : { cause };
  switch (reason) {
    case 'not-found':
      return new PathNotFoundError(msg, side, path, reason, opts);
    case 'access-denied':
      return new FileAccessDeniedError(msg, side, path, reason, opts);
    case 'disk-full':
      return new DiskFullError(msg, side, path, reason, opts);
    case 'invalid-name':
      return new InvalidNameError(msg, side, path, reason, opts);
    case 'is-directory':
    case 'not-a-directory':
      return new PathKindError(msg, side, path, reason, opts);
    case 'changed':
      return new SourceChangedError(msg, side, path, reason, opts);
    case 'checksum': {
      const m = /([0-9a-f]{64}).*?([0-9a-f]{64})/.exec(detail);
      return new ChecksumMismatchError(msg, side, path, m?.[2] ?? '', m?.[1] ?? '', opts);
    }
    default:
      return new TransferError(msg, side, path, reason, opts);
  }
}

const REASONS = new Set<TransferReason>([
  'not-found',
  'access-denied',
  'disk-full',
  'invalid-name',
  'is-directory',
  'not-a-directory',
  'checksum',
  'changed',
  'io',
]);

/** A remote failure text carrying `WTX1|reason|path|message`, as a typed error; undefined when it carries none. */
export function remoteTransferError(text: string): TransferError | undefined {
  const i = text.indexOf('WTX1|');
  if (i < 0) return undefined;
  const [reason, path, ...rest] = text.slice(i + 5).split('|');
  const r = REASONS.has(reason as TransferReason) ? (reason as TransferReason) : 'io';
  return transferError('remote', r, path ?? '', rest.join('|').split(/\r?\n/)[0] ?? '');
}

/** A Node file-system error (errno code) as a typed error about a local path. */
export function localTransferError(e: unknown, path: string): Error {
  const code = (e as NodeJS.ErrnoException)?.code;
  const detail = (e as Error)?.message?.replace(/^\w+: /, '') ?? String(e);
  const map: Record<string, TransferReason> = {
    ENOENT: 'not-found',
    EACCES: 'access-denied',
    EPERM: 'access-denied',
    EROFS: 'access-denied',
    EBUSY: 'access-denied',
    ENOSPC: 'disk-full',
    EDQUOT: 'disk-full',
    ENAMETOOLONG: 'invalid-name',
    EINVAL: 'invalid-name',
    EILSEQ: 'invalid-name',
    EISDIR: 'is-directory',
    ENOTDIR: 'not-a-directory',
  };
  const reason = code ? map[code] : undefined;
  if (!reason) return e instanceof Error ? e : new WinRMError(String(e));
  return transferError('local', reason, path, detail, e);
}
