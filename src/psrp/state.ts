/**
 * The two PSRP state machines: runspace pool (MS-PSRP 2.2.3.4 RunspacePoolState, 3.1.1.1) and pipeline
 * (MS-PSRP 2.2.3.5 PSInvocationState, 3.1.1.2). Every public method of the pool/pipeline checks the state it needs here.
 */
import { LocalProtocolError } from '../errors.js';

/** MS-PSRP 2.2.3.4 RunspacePoolState. */
export enum RunspacePoolState {
  BeforeOpen = 0,
  Opening = 1,
  Opened = 2,
  Closed = 3,
  Closing = 4,
  Broken = 5,
  NegotiationSent = 6,
  NegotiationSucceeded = 7,
  Connecting = 8,
  Disconnected = 9,
}

/** MS-PSRP 2.2.3.5 PSInvocationState. */
export enum PSInvocationState {
  NotStarted = 0,
  Running = 1,
  Stopping = 2,
  Stopped = 3,
  Completed = 4,
  Failed = 5,
  Disconnected = 6,
}

export const TERMINAL_PIPELINE_STATES: ReadonlySet<PSInvocationState> = new Set([
  PSInvocationState.Stopped,
  PSInvocationState.Completed,
  PSInvocationState.Failed,
]);

/** Allowed pool transitions (client view). */
const POOL_NEXT: Record<RunspacePoolState, RunspacePoolState[]> = {
  [RunspacePoolState.BeforeOpen]: [
    RunspacePoolState.NegotiationSent,
    RunspacePoolState.Opening,
    RunspacePoolState.Connecting,
    RunspacePoolState.Closed,
    RunspacePoolState.Broken,
  ],
  [RunspacePoolState.NegotiationSent]: [
    RunspacePoolState.NegotiationSucceeded,
    RunspacePoolState.Opening,
    RunspacePoolState.Opened,
    RunspacePoolState.Broken,
    RunspacePoolState.Closing,
    RunspacePoolState.Closed,
  ],
  [RunspacePoolState.NegotiationSucceeded]: [
    RunspacePoolState.Opening,
    RunspacePoolState.Opened,
    RunspacePoolState.Broken,
    RunspacePoolState.Closing,
    RunspacePoolState.Closed,
  ],
  [RunspacePoolState.Opening]: [RunspacePoolState.Opened, RunspacePoolState.Broken, RunspacePoolState.Closing, RunspacePoolState.Closed],
  [RunspacePoolState.Connecting]: [
    RunspacePoolState.Opened,
    RunspacePoolState.Broken,
    RunspacePoolState.Closing,
    RunspacePoolState.Closed,
    RunspacePoolState.NegotiationSucceeded,
  ],
  [RunspacePoolState.Opened]: [
    RunspacePoolState.Closing,
    RunspacePoolState.Closed,
    RunspacePoolState.Broken,
    RunspacePoolState.Disconnected,
  ],
  [RunspacePoolState.Disconnected]: [
    RunspacePoolState.Opened,
    RunspacePoolState.Connecting,
    RunspacePoolState.Closing,
    RunspacePoolState.Closed,
    RunspacePoolState.Broken,
  ],
  [RunspacePoolState.Closing]: [RunspacePoolState.Closed, RunspacePoolState.Broken],
  [RunspacePoolState.Closed]: [],
  [RunspacePoolState.Broken]: [RunspacePoolState.Closed],
};

/** The pool's state with checked transitions. */
export class PoolStateMachine {
  state: RunspacePoolState = RunspacePoolState.BeforeOpen;
  /** Throws LocalProtocolError unless the pool is in one of `states`. */
  require(action: string, ...states: RunspacePoolState[]): void {
    if (!states.includes(this.state)) {
      throw new LocalProtocolError(
        `cannot ${action}: the runspace pool is ${RunspacePoolState[this.state]} (needs ` +
          `${states.map((s) => RunspacePoolState[s]).join(' or ')})`,
      );
    }
  }
  /** Moves to `next` (a no-op when already there). Returns false when the transition is not allowed. */
  move(next: RunspacePoolState): boolean {
    if (next === this.state) return true;
    if (!POOL_NEXT[this.state].includes(next)) return false;
    this.state = next;
    return true;
  }
}

const PIPE_NEXT: Record<PSInvocationState, PSInvocationState[]> = {
  [PSInvocationState.NotStarted]: [
    PSInvocationState.Running,
    PSInvocationState.Stopped,
    PSInvocationState.Failed,
    PSInvocationState.Completed,
  ],
  [PSInvocationState.Running]: [
    PSInvocationState.Stopping,
    PSInvocationState.Stopped,
    PSInvocationState.Completed,
    PSInvocationState.Failed,
    PSInvocationState.Disconnected,
  ],
  [PSInvocationState.Stopping]: [PSInvocationState.Stopped, PSInvocationState.Completed, PSInvocationState.Failed],
  [PSInvocationState.Disconnected]: [
    PSInvocationState.Running,
    PSInvocationState.Stopped,
    PSInvocationState.Completed,
    PSInvocationState.Failed,
  ],
  [PSInvocationState.Stopped]: [],
  [PSInvocationState.Completed]: [],
  [PSInvocationState.Failed]: [],
};

/** A pipeline's state with checked transitions. */
export class PipelineStateMachine {
  state: PSInvocationState = PSInvocationState.NotStarted;
  require(action: string, ...states: PSInvocationState[]): void {
    if (!states.includes(this.state)) {
      throw new LocalProtocolError(
        `cannot ${action}: the pipeline is ${PSInvocationState[this.state]} (needs ` +
          `${states.map((s) => PSInvocationState[s]).join(' or ')})`,
      );
    }
  }
  move(next: PSInvocationState): boolean {
    if (next === this.state) return true;
    if (!PIPE_NEXT[this.state].includes(next)) return false;
    this.state = next;
    return true;
  }
  get done(): boolean {
    return TERMINAL_PIPELINE_STATES.has(this.state);
  }
}
