#!/usr/bin/env node
/** The winrm-ts command line. Uses only the public API (src/index.ts). Each command lives in commands/<name>.ts. */
import type { Command as CommandT } from 'commander';

const VERSION = '0.1.0';
const args = process.argv.slice(2);

// A reader that went away (`winrm-ts demo | head`) ends the output quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

// `--version` alone prints before anything is loaded (commander, the commands): a start-up as short as node's own
if (args.length === 1 && (args[0] === '-V' || args[0] === '--version')) process.stdout.write(`${VERSION}\n`);
else void main();

async function main(): Promise<void> {
  try {
    const [{ Command }, { commands }] = await Promise.all([import('commander'), import('./commands/index.js')]);
    const program: CommandT = new Command();
    program.name('winrm-ts').description('WinRM and PowerShell remoting for Node, past the double hop').version(VERSION);
    // The command named on the command line (the program itself has only -V/--version and -h/--help), else every
    // command (top-level help, `help CMD`, an unknown command: commander's own messages list them all).
    const named = args.find((a) => !a.startsWith('-'));
    const loaders = named !== undefined && Object.hasOwn(commands, named) ? [commands[named]!] : Object.values(commands);
    const mods = await Promise.all(loaders.map((load) => load()));
    for (const m of mods) m.register(program);
    await program.parseAsync(process.argv);
  } catch (e) {
    const err = e as Error & { code?: string };
    process.stderr.write(`winrm-ts: ${err?.message ?? String(e)}\n`);
    process.exitCode = process.exitCode || 1;
  }
}
