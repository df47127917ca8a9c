/** SHA-256 of a local file's bytes, read in 1 MiB pieces (memory stays flat whatever the size). */
import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Hash the first `limit` bytes of `path` (all of it by default); `bytes` says how many there were. */
export async function hashLocalFile(path: string, limit = Number.POSITIVE_INFINITY): Promise<{ hash: Hash; bytes: number }> {
  const hash = createHash('sha256');
  const fh = await open(path, 'r');
  let bytes = 0;
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    while (bytes < limit) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, limit - bytes), bytes);
      if (bytesRead <= 0) break;
      hash.update(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return { hash, bytes };
}
