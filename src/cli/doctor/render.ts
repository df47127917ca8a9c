/** Text rendering of doctor's checks (colour only on a terminal and without NO_COLOR); `--json` prints the Report. */
import type { Check, Report, Status } from './checks.js';

const LABEL: Record<Status, string> = { ok: 'ok', warning: 'warning', failed: 'FAILED', skipped: 'skipped' };
const COLOUR: Record<Status, string> = { ok: '32', warning: '33', failed: '31', skipped: '90' };

export function useColour(stream: { isTTY?: boolean }): boolean {
  return !!stream.isTTY && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
}

export function renderHeader(url: string, secondHop?: string): string {
  return `winrm-ts doctor: ${url}${secondHop ? ` (second hop: ${secondHop})` : ''}\n`;
}

/** One check: a status line, then the fixes indented. */
export function renderCheck(c: Check, colour: boolean): string {
  const label = LABEL[c.status].padEnd(8);
  const tag = colour ? `\x1b[${COLOUR[c.status]}m${label}\x1b[0m` : label;
  let s = `${tag} ${c.title}: ${c.detail}\n`;
  for (const f of c.fix ?? []) s += `         fix: ${f}\n`;
  return s;
}

export function renderSummary(r: Report): string {
  const n = (s: Status) => r.checks.filter((c) => c.status === s).length;
  return `\n${n('ok')} ok, ${n('warning')} warning(s), ${n('failed')} failed${n('skipped') ? `, ${n('skipped')} skipped` : ''}\n`;
}
