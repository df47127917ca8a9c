/** PSRP events a ClientRunspacePool yields (docs/architecture.md, "Sans-IO cores"): a discriminated union on `type`. */
import type { ClixmlValue } from '../clixml/index.js';
import type { RunspacePoolState, PSInvocationState } from './state.js';
import type { PSRPMessage } from './message.js';

/** MS-PSRP 2.2.2.15 / 2.2.2.27 a host method call the client must answer (unless `ci` is -100: void). */
export interface HostCall {
  /** call id; -100n means no response is expected */
  ci: bigint;
  methodId: number;
  methodName: string;
  params: ClixmlValue[];
  /** undefined for RUNSPACEPOOL_HOST_CALL */
  pipelineId?: string;
}

export type RecordStream = 'Error' | 'Warning' | 'Verbose' | 'Debug' | 'Information' | 'Progress';

export type PSRPEvent =
  | { type: 'SessionCapability'; protocolVersion: string; psVersion: string; serializationVersion: string }
  | { type: 'ApplicationPrivateData'; data: ClixmlValue }
  | { type: 'RunspacePoolState'; state: RunspacePoolState; error?: ClixmlValue }
  | { type: 'RunspacePoolInitData'; minRunspaces: number; maxRunspaces: number }
  | { type: 'RunspaceAvailability'; ci: bigint; value: ClixmlValue }
  | { type: 'PublicKeyRequest' }
  | { type: 'SessionKeyReady' }
  | { type: 'UserEvent'; event: ClixmlValue }
  | { type: 'HostCall'; call: HostCall; pipelineId?: string }
  | { type: 'PipelineState'; pipelineId: string; state: PSInvocationState; error?: ClixmlValue }
  | { type: 'Output'; pipelineId: string; value: ClixmlValue }
  | { type: RecordStream; pipelineId: string; record: ClixmlValue }
  | { type: 'Unknown'; message: PSRPMessage };

export type PSRPEventType = PSRPEvent['type'];
