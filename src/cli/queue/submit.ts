/**
 * `winrm-ts run --queue redis://HOST:PORT -H @hosts.txt ... -- COMMAND`: one BullMQ job per host; results come back
 * through the run's Redis stream and print exactly as a local fan-out prints them (src/cli/fanout-output.ts).
 * This process does no WinRM and holds no password (see protocol.ts).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, WINRM_ERR_OUTCOME_UNKNOWN } from '../../index.js';
import { FanoutPrinter, type HostOutcome } from '../fanout-output.js';
import { stdoutRoom, type FanoutFlags, type RunSpec } from '../fanout-spec.js';
import type { ConnectionFlags } from '../options.js';
import {
  DEFAULT_QUEUE,
  JOB_VERSION,
  KEEP_SECONDS,
  loadQueueLibs,
  queueUrl,
  redisOptions,
  safeUrl,
  streamKey,
  type QueueEvent,
  type QueueJob,
} from './protocol.js';

const CHECK_EVERY_MS = 2000;

export async function submitRun(hosts: string[], spec: RunSpec, f: ConnectionFlags & FanoutFlags): Promise<number> {
  const url = queueUrl(f.queue!);
  if (f.password !== undefined) {
    throw new InvalidArgumentError(
      '--queue: the password does not go into the queue; give it to the workers instead (WINRM_PASSWORD in their environment) ' +
        'and leave out -p',
    );
  }
  if (f.delegateTo?.length)
    process.stderr.write(
      "winrm-ts: warning: --delegate-to is ignored with --queue: CredSSP delegation follows each worker's own --delegate-to / " +
        'WINRM_TS_DELEGATE_TO\n',
    );
  let ca: string | undefined;
  if (f.ca) {
    try {
      ca = readFileSync(f.ca, 'utf8');
    } catch (e) {
      throw new InvalidArgumentError(`cannot read --ca ${f.ca}: ${(e as Error).message}`);
    }
  }
  const queueName = f.queueName ?? DEFAULT_QUEUE;
  const runId = randomUUID();
  const stream = streamKey(queueName, runId);
  const conn: QueueJob['conn'] = {
    port: f.port,
    https: !!f.https,
    username: f.user,
    auth: f.auth,
    encryption: f.encryption,
    ca,
    fingerprint: f.fingerprint,
    insecure: !!f.insecure,
    allowUnencrypted: !!f.allowUnencrypted,
    credsspMinVersion: f.credsspMinVersion,
    connectTimeout: f.connectTimeout,
    operationTimeout: f.operationTimeout,
    readTimeout: f.readTimeout,
    hostTimeout: f.hostTimeout,
  };
  const { bullmq, Redis } = await loadQueueLibs();
  const onRedisError = (e: Error) => process.stderr.write(`winrm-ts: ${safeUrl(url)}: ${e.message}\n`);
  const queue = new bullmq.Queue(queueName, { connection: { url, ...redisOptions(onRedisError) } });
  queue.on('error', () => undefined); // reported by the retry strategy
  const reader = new Redis(url, redisOptions(onRedisError));
  reader.on('error', () => undefined);
  const jobId = (i: number) => `${runId}-${i}`;
  const printer = new FanoutPrinter(hosts, { json: !!f.json, group: !!f.group });
  const final = new Map<number, HostOutcome>();
  const suspect = new Map<number, HostOutcome>();
  let interrupted = false;
  const onSig = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  try {
    await queue.addBulk(
      hosts.map((host, index) => ({
        name: 'run',
        data: { v: JOB_VERSION, runId, host, index, stream, retryLost: !!f.retryLost, conn, spec } satisfies QueueJob,
        opts: { jobId: jobId(index), attempts: 1, removeOnComplete: true, removeOnFail: { age: KEEP_SECONDS } },
      })),
    );
    process.stderr.write(
      `winrm-ts: ${hosts.length} job${hosts.length === 1 ? '' : 's'} queued on ${safeUrl(url)} (queue ${queueName}); results ` +
        `appear as workers run them (winrm-ts worker --queue ...)\n`,
    );
    const finish = (i: number, oc: HostOutcome) => {
      if (final.has(i)) return;
      final.set(i, oc);
      suspect.delete(i);
      printer.finish(hosts[i]!, oc);
    };
    let lastId = '0-0';
    let lastCheck = Date.now();
    while (final.size < hosts.length && !interrupted) {
      const res = (await reader.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', stream, lastId)) as Array<
        [string, Array<[string, string[]]>]
      > | null;
      for (const [, entries] of res ?? []) {
        for (const [id, fields] of entries) {
          lastId = id;
          const ev = parseEvent(fields);
          if (!ev || ev.i < 0 || ev.i >= hosts.length || final.has(ev.i)) continue;
          const host = hosts[ev.i]!;
          switch (ev.t) {
            case 'start':
              printer.start(host);
              break;
            case 'line':
              printer.line(host, ev.s === 'stderr' ? 'stderr' : 'stdout', String(ev.l));
              break;
            case 'exit':
              finish(ev.i, { kind: 'exit', exitCode: Number(ev.c) });
              break;
            case 'error':
              finish(ev.i, { kind: 'error', code: String(ev.code), message: String(ev.m), unknown: !!ev.unknown });
              break;
          }
          await stdoutRoom();
        }
      }
      if (Date.now() - lastCheck >= CHECK_EVERY_MS) {
        lastCheck = Date.now();
        // a job that ended without a result in the stream (e.g. failed in BullMQ): confirmed on the next check,
        // after the stream was read once more
        for (const [i, oc] of suspect) finish(i, oc);
        for (let i = 0; i < hosts.length; i++) {
          if (final.has(i)) continue;
          const job = await queue.getJob(jobId(i));
          const state = job ? await job.getState() : 'missing';
          if (state === 'failed') {
            const reason = job?.failedReason ?? 'the job failed';
            const lost = /stall/i.test(reason);
            suspect.set(
              i,
              lost
                ? {
                    kind: 'error',
                    code: WINRM_ERR_OUTCOME_UNKNOWN,
                    message: `the worker running it was lost (${reason}); the command may or may not have run`,
                    unknown: true,
                  }
                : { kind: 'error', code: 'QUEUE_JOB_FAILED', message: reason },
            );
          } else if (state === 'missing' || state === 'completed') {
            suspect.set(i, {
              kind: 'error',
              code: 'QUEUE_NO_RESULT',
              message: "the job ended without a result (was the queue cleaned, or the run's stream deleted?)",
            });
          }
        }
      }
    }
    if (interrupted) {
      let removed = 0;
      for (let i = 0; i < hosts.length; i++) {
        if (final.has(i)) continue;
        const job = await queue.getJob(jobId(i)).catch(() => undefined);
        const state = job ? await job.getState().catch(() => 'unknown') : 'missing';
        if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
          await job!.remove().then(
            () => {
              removed++;
            },
            () => undefined,
          );
        }
        printer.finish(hosts[i]!, {
          kind: 'error',
          code: 'INTERRUPTED',
          message:
            state === 'active'
              ? 'interrupted while a worker was running it (its result was not collected)'
              : 'interrupted before a worker ran it (removed from the queue)',
        });
      }
      process.stderr.write(`winrm-ts: interrupted; ${removed} job${removed === 1 ? '' : 's'} removed from the queue\n`);
    }
    await reader.del(stream).catch(() => undefined);
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    reader.disconnect();
    await queue.close().catch(() => undefined);
  }
  const code = printer.close();
  return interrupted ? 130 : code;
}

function parseEvent(fields: string[]): QueueEvent | undefined {
  for (let k = 0; k + 1 < fields.length; k += 2) {
    if (fields[k] !== 'e') continue;
    try {
      const ev = JSON.parse(fields[k + 1]!) as QueueEvent;
      if (ev && typeof ev === 'object' && typeof ev.i === 'number' && typeof ev.t === 'string') return ev;
    } catch {
      /* not ours: skipped */
    }
  }
  return undefined;
}
