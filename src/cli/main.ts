#!/usr/bin/env node
/** The winrm-ts command line. Uses only the public API (src/index.ts). Each command lives in commands/<name>.ts. */
import { Command } from 'commander';
import { commands } from './commands/index.js';

// A reader that went away (`winrm-ts demo | head`) ends the output quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const program = new Command();
program.name('winrm-ts').description('WinRM and PowerShell remoting for Node, past the double hop').version('0.1.0');
// The command named on the command line (the program itself has only -V/--version and -h/--help), else every command
// (top-level help, `help CMD`, an unknown command: commander's own messages list them all).
const args = process.argv.slice(2);
const named = args.find((a) => !a.startsWith('-'));
const loaders =
  named !== undefined && Object.hasOwn(commands, named)
    ? [commands[named]!]
    : args.length === 1 && /^(-V|--version)$/.test(args[0]!)
      ? []
      : Object.values(commands);
Promise.all(loaders.map((load) => load()))
  .then((mods) => {
    for (const m of mods) m.register(program);
    return program.parseAsync(process.argv);
  })
  .catch((e: unknown) => {
    const err = e as Error & { code?: string };
    process.stderr.write(`winrm-ts: ${err?.message ?? String(e)}\n`);
    process.exitCode = process.exitCode || 1;
  });
