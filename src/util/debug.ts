/** Observability: util.debuglog('winrm') and diagnostics_channel. Never pass secrets here. */
import { debuglog } from 'node:util';
import diagnostics_channel from 'node:diagnostics_channel';
export const debug = debuglog('winrm');
export const channels = {
  request: diagnostics_channel.channel('winrm-ts:http:request'),
  response: diagnostics_channel.channel('winrm-ts:http:response'),
  auth: diagnostics_channel.channel('winrm-ts:auth'),
  psrp: diagnostics_channel.channel('winrm-ts:psrp'),
};
