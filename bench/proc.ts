/**
 * Linux /proc readings the transfer benches share: a process's name, parent and CPU seconds, its threads' run-queue
 * wait, and the process tree below a pid (everything returns undefined / 0 / [] for a process that is gone); and the
 * phase marks a measured child prints.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const HZ = 100; // USER_HZ

export interface ProcStat {
  name: string;
  ppid: number;
  /** user + system CPU seconds of the process itself */
  cpu: number;
  /** user + system CPU seconds of its reaped children */
  ccpu: number;
}

/** /proc/PID/stat: name, parent, CPU seconds. */
export function procStat(pid: number): ProcStat | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return { name, ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / HZ, ccpu: (Number(f[13]) + Number(f[14])) / HZ };
  } catch {
    return undefined;
  }
}

/** Seconds the process's threads were runnable but waited for a core (/proc/PID/task/TID/schedstat). */
export function runDelay(pid: number): number {
  let s = 0;
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        s += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
      } catch {
        /* gone */
      }
    }
  } catch {
    /* gone */
  }
  return s;
}

/** Every process's children, by parent pid (one /proc scan). */
export function processTree(): Map<number, number[]> {
  const kids = new Map<number, number[]>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const st = procStat(Number(p));
    if (st) kids.set(st.ppid, [...(kids.get(st.ppid) ?? []), Number(p)]);
  }
  return kids;
}

/** The pids below `root` in `kids` (default: a fresh scan), children before grandchildren of each branch. */
export function descendants(root: number, kids: Map<number, number[]> = processTree()): number[] {
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    for (const k of kids.get(todo.pop()!) ?? []) {
      out.push(k);
      todo.push(k);
    }
  }
  return out;
}

/**
 * Follow a measured child's output: each stdout line `MARK name epoch-ms` goes to `onMark`; the last 2000 characters
 * of stderr are kept for an error message (`stderrTail()`).
 */
export function followMarks(child: ChildProcess, onMark: (name: string, t: number) => void): { stderrTail(): string } {
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (let i; (i = out.indexOf('\n')) >= 0;) {
      const m = /^MARK (\S+) (\d+)/.exec(out.slice(0, i));
      if (m) onMark(m[1]!, Number(m[2]));
      out = out.slice(i + 1);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)));
  return { stderrTail: () => err };
}
