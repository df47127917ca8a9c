/**
 * Write-Progress at the terminal: one bar (cli-progress) for the newest activity, drawn on stderr while a command
 * runs and cleared when the activity completes or the command ends. Nothing is drawn when stderr is not a terminal.
 */
import cliProgress from 'cli-progress';
import { PSObject, type ClixmlValue } from '../../index.js';

/** The fields of a deserialized ProgressRecord (pwsh sends Activity, ActivityId, StatusDescription, PercentComplete, Type). */
export interface ProgressInfo {
  activityId: number;
  activity: string;
  status: string;
  percent: number;
  completed: boolean;
}

export function progressInfo(record: ClixmlValue): ProgressInfo | undefined {
  if (!(record instanceof PSObject)) return undefined;
  const text = (k: string) => {
    const v = record.get(k) as ClixmlValue | undefined;
    return v === null || v === undefined ? '' : v instanceof PSObject ? (v.toStringValue ?? String(v.value ?? '')) : String(v);
  };
  const n = (k: string) => {
    const v = Number(text(k));
    return Number.isFinite(v) ? v : -1;
  };
  const type = text('Type') || text('RecordType');
  return {
    activityId: n('ActivityId'),
    activity: text('Activity'),
    status: text('StatusDescription'),
    percent: n('PercentComplete'),
    completed: /^(Completed|1)$/.test(type),
  };
}

export class ProgressView {
  private bar: cliProgress.SingleBar | undefined;
  private activityId: number | undefined;
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  get active(): boolean {
    return this.bar !== undefined;
  }

  update(record: ClixmlValue): void {
    const p = progressInfo(record);
    if (!p || !this.stream.isTTY) return;
    if (p.completed) {
      if (this.activityId === undefined || p.activityId === this.activityId) this.clear();
      return;
    }
    const payload = { activity: p.activity, status: p.status };
    const value = p.percent >= 0 ? Math.min(100, p.percent) : 0;
    if (!this.bar) {
      const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - p.activity.length - p.status.length - 12));
      this.bar = new cliProgress.SingleBar({
        stream: this.stream,
        format: '{activity} [{bar}] {percentage}% {status}',
        barsize: width,
        clearOnComplete: true,
        hideCursor: false,
        linewrap: false,
        fps: 20,
        barCompleteChar: 'o',
        barIncompleteChar: ' ',
      });
      this.bar.start(100, value, payload);
    } else this.bar.update(value, payload);
    this.activityId = p.activityId;
  }

  /** Remove the bar from the screen (the command ended or the activity completed). */
  clear(): void {
    const b = this.bar;
    this.bar = undefined;
    this.activityId = undefined;
    b?.stop();
  }
}
