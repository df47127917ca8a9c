/**
 * How a Session talks to a server: a PoolTransport carries one ClientRunspacePool's bytes. Implementations:
 * OutOfProc over a byte stream (`pwsh -s` child process here; the SSH `powershell` subsystem reuses it),
 * WS-Man (WinRM) in remoting/wsman-transport.ts. The Session drives the sans-IO pool and calls these at the edges.
 */
import type { ClientRunspacePool } from '../psrp/pool.js';

export interface PoolTransportHooks {
  /** new bytes were fed to the pool: drain `pool.nextEvent()` */
  onData(): void;
  /** the connection ended (error = unexpectedly) */
  onClose(error?: Error): void;
}

export interface PoolTransport {
  /** short name for messages and diagnostics: 'process', 'ssh', 'wsman' */
  readonly kind: string;
  /** Bind to the pool (once, before anything else). */
  attach(pool: ClientRunspacePool, hooks: PoolTransportHooks): void;
  /** Create the pool on the server with its queued creation data (pool.open() was called). Resolves once sent. */
  openPool(opts?: { signal?: AbortSignal }): Promise<void>;
  /** Create a pipeline on the server and send its queued CREATE_PIPELINE (pipeline.start() was called). */
  createPipeline(pipelineId: string, opts?: { signal?: AbortSignal }): Promise<void>;
  /** Send whatever the pool has queued (input, host responses, key exchange), as flow control allows. */
  flush(): void;
  /** Ask the server to stop a running pipeline (MS-PSRP stop signal). Resolves when the server acknowledged. */
  stopPipeline(pipelineId: string): Promise<void>;
  /** Release a finished pipeline on the server. */
  closePipeline(pipelineId: string): Promise<void>;
  /** Close the pool and the connection. Idempotent. */
  close(): Promise<void>;
}
