#!/usr/bin/env node
/** The winrm-ts command line. Uses only the public API (src/index.ts). Each command lives in commands/<name>.ts. */
import { Command } from 'commander';
import { commands } from './commands/index.js';

// A reader that went away (`winrm-ts demo | head`) ends the output quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); throw e; });
}

const program = new Command();
program.name('winrm-ts').description('WinRM and PowerShell remoting for Node, past the double hop').version('0.1.0');
for (const register of commands) register(program);
program.parseAsync(process.argv).catch((e: unknown) => {
  const err = e as Error & { code?: string };
  process.stderr.write(`winrm-ts: ${err?.message ?? String(e)}\n`);
  process.exitCode = process.exitCode || 1;
});
