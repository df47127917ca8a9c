/**
 * The types of a Session invocation: its options, the events a running pipeline yields, and the collected result.
 * On their own so that transfer/ (which runs its scripts through a Session) can name them without importing it.
 */
import type { ClixmlValue, PSValue } from '../clixml/index.js';
import type { PSInvocationState } from '../psrp/state.js';
import type { PSHostHandler } from './host.js';

export interface InvokeOptions {
  /** named parameters of the script (its param() block) */
  parameters?: Record<string, PSValue>;
  /** positional arguments */
  args?: PSValue[];
  /** pipeline input ($input / process blocks) */
  input?: Iterable<PSValue> | AsyncIterable<PSValue>;
  /** abort = stop the pipeline (the promise rejects with AbortError) */
  signal?: AbortSignal;
  /** host for this invocation (default: the session's host) */
  host?: PSHostHandler;
  /** merge the error stream into output (2>&1) */
  mergeErrorToOutput?: boolean;
  /** run the text as a command name instead of a script */
  isCommand?: boolean;
}

/** An event of a running pipeline (what `stream` yields). */
export type InvokeEvent =
  | { type: 'output'; value: ClixmlValue }
  | { type: 'error' | 'warning' | 'verbose' | 'debug' | 'information' | 'progress'; record: ClixmlValue }
  | { type: 'state'; state: PSInvocationState; error?: ClixmlValue };

export interface InvokeStreams {
  error: ClixmlValue[];
  warning: ClixmlValue[];
  verbose: ClixmlValue[];
  debug: ClixmlValue[];
  information: ClixmlValue[];
  progress: ClixmlValue[];
}
export interface InvokeResult {
  output: ClixmlValue[];
  streams: InvokeStreams;
  /** an error record was written or the pipeline failed */
  hadErrors: boolean;
  state: PSInvocationState;
}
