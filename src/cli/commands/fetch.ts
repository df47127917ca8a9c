/**
 * `winrm-ts fetch [connection flags] REMOTE... LOCAL` (Copy-Item -FromSession): remote files or directories to a
 * local path (`-` = one remote file to stdout). Flags and session handling are shared with `copy` (copy.ts).
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../index.js';
import { addTransferOptions, human, withTransferSession, type TransferFlags } from './copy.js';
import { isHostList } from '../hosts.js';
import { checkTransferFanout, transferFanout } from '../fanout-transfer.js';

export function register(program: Command): void {
  const cmd = program
    .command('fetch')
    .description('fetch remote files or directories over PSRP (Copy-Item -FromSession): resumable, SHA-256 verified')
    .argument(
      '<paths...>',
      'REMOTE... LOCAL: remote files / directories, then the local path (a directory to fetch into, the new name, or - for stdout)',
    )
    .addHelpText(
      'after',
      "\nExamples:\n  winrm-ts fetch -H host -u 'EXAMPLE\\alice' C:\\logs\\app.log ./\n  winrm-ts fetch --ssh -H host -u alice " +
        "/var/log/app ./logs\n  winrm-ts fetch -H host -u 'EXAMPLE\\alice' C:\\data\\big.csv - | head",
    );
  addTransferOptions(cmd);
  cmd.action(async (paths: string[], flags: TransferFlags) => {
    if (paths.length < 2) throw new InvalidArgumentError('give REMOTE... LOCAL: at least one remote path and the local path');
    const local = paths[paths.length - 1]!;
    const remotes = paths.slice(0, -1);
    if (isHostList(flags.host as string | undefined) && !flags.local) {
      // many hosts: each into LOCAL/<host>/ (src/cli/fanout-transfer.ts)
      checkTransferFanout('fetch', remotes, local);
      await transferFanout(flags, 'fetch', human, (s, o, dir) => s.fetch(remotes, dir!, o), local);
      return;
    }
    if (local === '-') {
      if (remotes.length > 1) throw new InvalidArgumentError('- (stdout) takes exactly one remote file');
      if (flags.json) throw new InvalidArgumentError('--json and - (stdout) both write to stdout: choose one');
    }
    process.exitCode = await withTransferSession(flags, 'fetch', (s, o) => s.fetch(remotes, local === '-' ? process.stdout : local, o));
  });
}
