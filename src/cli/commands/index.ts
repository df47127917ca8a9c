import type { Command } from 'commander';
// One line per command module; each exports `register(program)`.
export const commands: Array<(program: Command) => void> = [];
