/**
 * `winrm-ts worker --queue redis://HOST:PORT [--throttle N]`: takes fan-out jobs from the BullMQ queue and runs
 * them (N hosts at a time), reporting each host's lines and result to its run's Redis stream (protocol.ts).
 * Credentials come from this process only: the password from WINRM_PASSWORD, CredSSP's delegate list from
 * --delegate-to / WINRM_TS_DELEGATE_TO. SIGINT/SIGTERM: stop taking jobs, finish the running ones, exit
 * (a second signal exits at once; its running jobs are then reported "outcome unknown").
 */
import {
  DEFAULT_THROTTLE,
  InvalidArgumentError,
  parseHostPort,
  WINRM_ERR_ERROR,
  WINRM_ERR_OUTCOME_UNKNOWN,
  WINRM_ERR_TIMEOUT,
  type ConnectOptions,
  type WinRMError,
} from '../../index.js';
import { runOnHost } from '../fanout-run.js';
import {
  DEFAULT_QUEUE,
  JOB_VERSION,
  KEEP_SECONDS,
  loadQueueLibs,
  queueUrl,
  redisOptions,
  safeUrl,
  startedKey,
  workerId,
  type QueueEvent,
  type QueueJob,
} from './protocol.js';

export interface WorkerFlags {
  queue: string;
  queueName?: string;
  throttle?: number;
  lockDuration?: number;
  delegateTo?: string[];
  allowUnencrypted?: boolean;
  quiet?: boolean;
}

export async function runWorker(f: WorkerFlags): Promise<number> {
  const url = queueUrl(f.queue);
  const queueName = f.queueName ?? DEFAULT_QUEUE;
  const concurrency = f.throttle ?? DEFAULT_THROTTLE;
  const lockMs = Math.round((f.lockDuration ?? 30) * 1000);
  if (lockMs < 1000) throw new InvalidArgumentError('--lock-duration must be at least 1 second');
  const envDelegate =
    process.env.WINRM_TS_DELEGATE_TO?.split(',')
      .map((s) => s.trim())
      .filter(Boolean) ?? [];
  const delegateTo = [...(f.delegateTo ?? []), ...envDelegate];
  const password = process.env.WINRM_PASSWORD;
  const wid = workerId();
  const log = f.quiet ? () => undefined : (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const { bullmq, Redis } = await loadQueueLibs();
  const onRedisError = (e: Error) => process.stderr.write(`winrm-ts worker: ${safeUrl(url)}: ${e.message}\n`);
  const redis = new Redis(url, redisOptions(onRedisError));
  redis.on('error', () => undefined);

  const processJob = async (job: { id?: string; data: unknown }): Promise<void> => {
    const d = job.data as QueueJob;
    if (!d || d.v !== JOB_VERSION || typeof d.stream !== 'string' || typeof d.index !== 'number') {
      throw new Error(`job ${job.id}: not a winrm-ts fan-out job of version ${JOB_VERSION}`);
    }
    const emit = async (ev: QueueEvent) => {
      await redis.xadd(d.stream, '*', 'e', JSON.stringify(ev));
    };
    const marker = startedKey(queueName, job.id!);
    const first = await redis.set(marker, wid, 'EX', KEEP_SECONDS, 'NX');
    if (first !== 'OK') {
      const prev = await redis.get(marker);
      if (!d.retryLost) {
        log(`${d.host}: started before by ${prev ?? 'a worker'} that was lost: reported as outcome unknown, not run again`);
        await emit({
          t: 'error',
          i: d.index,
          code: WINRM_ERR_OUTCOME_UNKNOWN,
          unknown: true,
          m:
            `the worker that was running it (${prev ?? 'unknown'}) was lost mid-run: the command may or may not have run; it was ` +
            `not run again (--retry-lost allows that)`,
        });
        return;
      }
      log(`${d.host}: started before by ${prev ?? 'a worker'} that was lost: running again (--retry-lost)`);
      await redis.set(marker, wid, 'EX', KEEP_SECONDS);
    }
    await emit({ t: 'start', i: d.index, w: wid });
    await redis.expire(d.stream, KEEP_SECONDS);
    log(`${d.host}: started (run ${d.runId})`);
    const c = d.conn ?? {};
    const conn: ConnectOptions = {
      host: d.host,
      port: c.port,
      https: !!c.https,
      username: c.username,
      password,
      auth: c.auth,
      encryption: c.encryption,
      ca: c.ca,
      fingerprint: c.fingerprint,
      // Basic in clear text only when both the job and this worker allow it: a job cannot loosen the worker's policy
      insecure: !!c.insecure,
      allowUnencrypted: !!c.allowUnencrypted && !!f.allowUnencrypted,
      credsspMinVersion: c.credsspMinVersion,
      delegateTo: delegateTo.length ? delegateTo : undefined,
      connectTimeout: c.connectTimeout,
      operationTimeout: c.operationTimeout,
      readTimeout: c.readTimeout,
      onWarning: (m) => log(`${d.host}: warning: ${m}`),
    };
    // host[:port] as given: the port in the host string wins over --port, as in a local fan-out
    const hp = parseHostPort(d.host);
    conn.host = hp.host;
    conn.port = hp.port ?? c.port;
    const signal = c.hostTimeout ? AbortSignal.timeout(c.hostTimeout * 1000) : new AbortController().signal;
    try {
      const code = await runOnHost(conn, d.spec, (s, l) => emit({ t: 'line', i: d.index, s, l }), signal);
      await emit({ t: 'exit', i: d.index, c: code });
      log(`${d.host}: exit ${code}`);
    } catch (e) {
      const err = e as WinRMError;
      const code =
        signal.aborted && !(typeof err?.code === 'string') ? WINRM_ERR_TIMEOUT : typeof err?.code === 'string' ? err.code : WINRM_ERR_ERROR;
      await emit({ t: 'error', i: d.index, code, m: err?.message ?? String(e) });
      log(`${d.host}: ${code}: ${err?.message ?? String(e)}`);
    }
  };

  const worker = new bullmq.Worker(queueName, processJob, {
    connection: { url, ...redisOptions(onRedisError) },
    concurrency,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    maxStalledCount: 1,
  });
  worker.on('error', (e) => process.stderr.write(`winrm-ts worker: ${e.message}\n`));
  worker.on('failed', (job, e) => log(`job ${job?.id ?? '?'} failed: ${e.message}`));
  await worker.waitUntilReady();
  log(
    `winrm-ts worker ${wid}: taking jobs from ${safeUrl(url)} (queue ${queueName}, ${concurrency} at a ` +
      `time${password === undefined ? ', no WINRM_PASSWORD: anonymous or the logged-on user' : ''})`,
  );
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) {
        process.stderr.write('winrm-ts worker: exiting now\n');
        process.exit(130);
      }
      stopping = true;
      log('winrm-ts worker: stopping after the running jobs (signal again to exit now)');
      worker.close().then(resolve, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  redis.disconnect();
  return 0;
}
