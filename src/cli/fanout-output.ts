/**
 * How a fan-out prints (local `run`/`ps` over many hosts, and `run --queue`, which prints the same way):
 *  - text: every line prefixed with its host, `[host] line` (stdout lines to stdout, stderr lines to stderr);
 *    `--group`: each host's lines together, printed when that host finishes (held in memory up to 1 MiB per host,
 *    past that in a temporary file of mode 0600, removed afterwards);
 *  - `--json`: NDJSON on stdout, every line carrying PSComputerName (the host as given):
 *    {"PSComputerName","stream":"stdout"|"stderr","line"} and a last line per host {"PSComputerName","exitCode"}
 *    or {"PSComputerName","error":{"code","message"}[,"outcome":"unknown"]}; for `ps` each output object with
 *    PSComputerName added (scalars as {"PSComputerName","value"});
 *  - a live summary line on stderr (done / failed / running) only when stderr is a terminal (not with NO_COLOR,
 *    TERM=dumb or CI set);
 *  - a closing table on stderr: one row per host with its exit code or error, and a summary line.
 * The exit code is 0 when every host succeeded (exit code 0, no error), else 1.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { WINRM_ERR_ERROR, type WinRMError } from '../errors.js';

export type HostOutcome =
  | { kind: 'exit'; exitCode: number }
  | { kind: 'ps'; hadErrors: boolean; exitCode?: number }
  | { kind: 'error'; code: string; message: string; unknown?: boolean };

/** A host's failure as an outcome: its error's code (WINRM_ERR_ERROR when it has none) and message. */
export function errorOutcome(e: unknown): HostOutcome {
  const err = e as WinRMError;
  return { kind: 'error', code: typeof err?.code === 'string' ? err.code : WINRM_ERR_ERROR, message: err?.message ?? String(e) };
}

export interface PrinterOptions {
  json: boolean;
  group: boolean;
  live?: boolean;
}

const GROUP_MEMORY = 1 << 20;
/** longest line kept whole; longer ones are cut into pieces of this size (bounded memory per host) */
export const MAX_LINE = 64 * 1024;

class GroupBuffer {
  private parts: Array<[1 | 2, string]> = [];
  private size = 0;
  private fd: number | undefined;
  private dir: string | undefined;
  add(fd: 1 | 2, text: string): void {
    if (this.fd === undefined && this.size + text.length <= GROUP_MEMORY) {
      this.parts.push([fd, text]);
      this.size += text.length;
      return;
    }
    if (this.fd === undefined) {
      this.dir = mkdtempSync(join(tmpdir(), 'winrm-ts-group-'));
      this.fd = openSync(join(this.dir, 'out'), 'w+', 0o600);
      for (const [f, t] of this.parts) this.spill(f, t);
      this.parts = [];
    }
    this.spill(fd, text);
  }
  private spill(fd: 1 | 2, text: string): void {
    const b = Buffer.from(text);
    const head = Buffer.alloc(5);
    head[0] = fd;
    head.writeUInt32LE(b.length, 1);
    writeSync(this.fd!, head);
    writeSync(this.fd!, b);
  }
  drain(write: (fd: 1 | 2, text: string) => void): void {
    if (this.fd === undefined) {
      for (const [f, t] of this.parts) write(f, t);
      this.parts = [];
      return;
    }
    closeSync(this.fd);
    const all = readFileSync(join(this.dir!, 'out'));
    rmSync(this.dir!, { recursive: true, force: true });
    this.fd = undefined;
    for (let off = 0; off < all.length;) {
      const fd = all[off] as 1 | 2;
      const n = all.readUInt32LE(off + 1);
      write(fd, all.subarray(off + 5, off + 5 + n).toString());
      off += 5 + n;
    }
  }
  discard(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Splits one host's byte stream into lines (UTF-8 safe); a line longer than MAX_LINE is emitted in pieces. */
export class LineSplitter {
  private dec = new StringDecoder('utf8');
  private pending = '';
  push(chunk: Uint8Array): string[] {
    this.pending += this.dec.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    const lines: string[] = [];
    let i: number;
    while ((i = this.pending.indexOf('\n')) >= 0) {
      lines.push(this.pending.slice(0, i).replace(/\r$/, ''));
      this.pending = this.pending.slice(i + 1);
    }
    while (this.pending.length > MAX_LINE) {
      lines.push(this.pending.slice(0, MAX_LINE));
      this.pending = this.pending.slice(MAX_LINE);
    }
    return lines;
  }
  end(): string[] {
    this.pending += this.dec.end();
    const rest = this.pending;
    this.pending = '';
    return rest ? [rest.replace(/\r$/, '')] : [];
  }
}

export function liveSummaryWanted(): boolean {
  const env = process.env;
  return !!process.stderr.isTTY && !env.NO_COLOR && env.TERM !== 'dumb' && !env.CI;
}

export class FanoutPrinter {
  private readonly outcomes = new Map<string, HostOutcome>();
  private readonly groups = new Map<string, GroupBuffer>();
  private running = 0;
  private statusShown = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly t0 = Date.now();

  constructor(
    private readonly hosts: readonly string[],
    private readonly o: PrinterOptions,
    private readonly out: { stdout: (s: string) => void; stderr: (s: string) => void } = {
      stdout: (s) => {
        process.stdout.write(s);
      },
      stderr: (s) => {
        process.stderr.write(s);
      },
    },
  ) {
    if (o.live ?? liveSummaryWanted()) {
      this.timer = setInterval(() => this.drawStatus(), 250);
      this.timer.unref();
    }
  }

  start(host: string): void {
    this.running++;
    void host;
  }

  /** one line of a host's stdout / stderr (run) */
  line(host: string, stream: 'stdout' | 'stderr', line: string): void {
    if (this.o.json) this.emit(host, 1, JSON.stringify({ PSComputerName: host, stream, line }) + '\n');
    else this.emit(host, stream === 'stderr' ? 2 : 1, `${this.prefix(host)}${line}\n`);
  }

  /** one output object (ps): its plain JSON form and its text form */
  object(host: string, plain: unknown, text: string | undefined): void {
    if (this.o.json) {
      const rec =
        plain !== null && typeof plain === 'object' && !Array.isArray(plain)
          ? { ...(plain as Record<string, unknown>), PSComputerName: host }
          : { PSComputerName: host, value: plain };
      this.emit(host, 1, JSON.stringify(rec) + '\n');
    } else if (text !== undefined) {
      for (const l of text.split('\n')) this.emit(host, 1, `${this.prefix(host)}${l}\n`);
    }
  }

  /** a message for the host on stderr (ps error records, warnings) */
  message(host: string, text: string): void {
    if (this.o.json) this.emit(host, 1, JSON.stringify({ PSComputerName: host, stream: 'error', line: text }) + '\n');
    else for (const l of text.split('\n')) this.emit(host, 2, `${this.prefix(host)}${l}\n`);
  }

  finish(host: string, outcome: HostOutcome): void {
    if (this.outcomes.has(host)) return;
    this.running = Math.max(0, this.running - 1);
    this.outcomes.set(host, outcome);
    if (this.o.json) {
      const rec: Record<string, unknown> = { PSComputerName: host };
      if (outcome.kind === 'exit') rec.exitCode = outcome.exitCode;
      else if (outcome.kind === 'ps') {
        rec.hadErrors = outcome.hadErrors;
        if (outcome.exitCode !== undefined) rec.exitCode = outcome.exitCode;
      } else {
        rec.error = { code: outcome.code, message: outcome.message };
        if (outcome.unknown) rec.outcome = 'unknown';
      }
      this.emit(host, 1, JSON.stringify(rec) + '\n');
    } else if (outcome.kind === 'error') {
      this.emit(host, 2, `${this.prefix(host)}winrm-ts: ${outcome.unknown ? 'outcome unknown: ' : ''}${outcome.message}\n`);
    }
    const g = this.groups.get(host);
    if (g) {
      this.groups.delete(host);
      this.clearStatus();
      if (!this.o.json) this.out.stdout(`=== ${host} ===\n`);
      g.drain((fd, t) => (fd === 1 ? this.out.stdout : this.out.stderr)(t));
    }
  }

  /** the closing table on stderr; returns the process exit code (0: every host succeeded) */
  close(): number {
    if (this.timer) clearInterval(this.timer);
    this.clearStatus();
    for (const g of this.groups.values()) g.discard();
    let failed = 0;
    let errors = 0;
    let unknown = 0;
    const w = Math.min(48, Math.max(4, ...this.hosts.map((h) => h.length)));
    const rows: string[] = [`${'HOST'.padEnd(w)}  RESULT`];
    for (const h of this.hosts) {
      const oc = this.outcomes.get(h) ?? { kind: 'error', code: 'NOT_RUN', message: 'not run' };
      let text: string;
      if (oc.kind === 'exit') {
        text = `exit ${oc.exitCode}`;
        if (oc.exitCode !== 0) failed++;
      } else if (oc.kind === 'ps') {
        text = oc.exitCode !== undefined ? `exit ${oc.exitCode}` : oc.hadErrors ? 'errors' : 'ok';
        if (oc.hadErrors || (oc.exitCode ?? 0) !== 0) failed++;
      } else {
        text = `${oc.unknown ? 'UNKNOWN' : 'ERROR'} ${oc.code}: ${oc.message.split('\n')[0]}`;
        failed++;
        errors++;
        if (oc.unknown) unknown++;
      }
      rows.push(`${h.padEnd(w)}  ${text}`);
    }
    const secs = ((Date.now() - this.t0) / 1000).toFixed(1);
    rows.push(
      `winrm-ts: ${this.hosts.length - failed} of ${this.hosts.length} hosts succeeded` +
        (failed
          ? `, ${failed} failed (${errors} with errors${unknown ? `, ${unknown} outcome unknown` : ''}, ${failed - errors} non-zero exit)`
          : '') +
        ` in ${secs} s`,
    );
    this.out.stderr(rows.join('\n') + '\n');
    return failed ? 1 : 0;
  }

  /** `[host] ` before every text line; none under a --group header */
  private prefix(host: string): string {
    return this.o.group ? '' : `[${host}] `;
  }

  private emit(host: string, fd: 1 | 2, text: string): void {
    if (this.o.group) {
      let g = this.groups.get(host);
      if (!g) {
        g = new GroupBuffer();
        this.groups.set(host, g);
      }
      g.add(fd, text);
      return;
    }
    this.clearStatus();
    (fd === 1 ? this.out.stdout : this.out.stderr)(text);
  }

  private clearStatus(): void {
    if (this.statusShown) {
      this.out.stderr('\r\x1b[K');
      this.statusShown = false;
    }
  }

  private drawStatus(): void {
    const done = this.outcomes.size;
    let failed = 0;
    for (const oc of this.outcomes.values()) {
      if (
        oc.kind === 'error' ||
        (oc.kind === 'exit' && oc.exitCode !== 0) ||
        (oc.kind === 'ps' && (oc.hadErrors || (oc.exitCode ?? 0) !== 0))
      )
        failed++;
    }
    this.out.stderr(`\r\x1b[K${done}/${this.hosts.length} done, ${failed} failed, ${this.running} running`);
    this.statusShown = true;
  }
}
