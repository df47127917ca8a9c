import type { Command } from 'commander';
import { register as run } from './run.js';
import { register as serve } from './serve.js';
import { register as ps } from './ps.js';
import { register as demo } from './demo.js';
import { register as worker } from './worker.js';
import { register as copy } from './copy.js';
import { register as fetch } from './fetch.js';
// One line per command module; each exports `register(program)`.
export const commands: Array<(program: Command) => void> = [run, serve, ps, copy, fetch, demo, worker];
