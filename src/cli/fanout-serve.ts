/**
 * `serve --listen A --listen B ...`: one endpoint process answering on many addresses, each as its own host
 * (for fan-out tests and demos). With one --listen the endpoint is named --name (default localhost); with several,
 * each is named NAME-PORT (localhost-5985, localhost-5986, ...), so every answer says which "host" it came from.
 */
import type { ServerHandle } from '../index.js';

export const DEFAULT_LISTEN = '127.0.0.1:5985';

/** The addresses to listen on (the repeatable --listen; none given = the default; an address given twice is served once). */
export function listenAddresses(
  listen: string[] | string | undefined,
  warn: (m: string) => void = (m) => process.stderr.write(`winrm-ts serve: ${m}\n`),
): string[] {
  const l = Array.isArray(listen) ? listen : listen ? [listen] : [];
  const unique = [...new Set(l)];
  for (const dup of unique.filter((a) => l.indexOf(a) !== l.lastIndexOf(a)))
    warn(`--listen ${dup} is given more than once: listening on it once`);
  return unique.length ? unique : [DEFAULT_LISTEN];
}

/** The machine name of the endpoint on `listen` when `count` addresses are served. */
export function endpointName(name: string, listen: string, count: number): string {
  if (count <= 1) return name;
  const port = /:(\d+)$/.exec(listen)?.[1] ?? listen;
  return `${name}-${port}`;
}

/**
 * Start one endpoint per address (in order; the first failure closes the ones already started and throws).
 * With several addresses, a port that is busy (EADDRINUSE: often a client connection on this machine that
 * happened to take it as its ephemeral port, or one closing) is tried again for a few seconds before giving up.
 */
export async function serveAll(
  listens: string[],
  name: string,
  start: (listen: string, name: string) => Promise<ServerHandle>,
  busyRetryMs = 5000,
): Promise<ServerHandle[]> {
  const handles: ServerHandle[] = [];
  const startRetrying = async (l: string): Promise<ServerHandle> => {
    const until = Date.now() + (listens.length > 1 ? busyRetryMs : 0);
    for (;;) {
      try {
        return await start(l, endpointName(name, l, listens.length));
      } catch (e) {
        if (!/EADDRINUSE/.test((e as Error).message) || Date.now() >= until) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  try {
    for (const l of listens) handles.push(await startRetrying(l));
  } catch (e) {
    await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
    throw e;
  }
  return handles;
}
