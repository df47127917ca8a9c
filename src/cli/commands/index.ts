import type { Command } from 'commander';
// One line per command module; each exports `register(program)`. Modules load lazily: a command line loads only the
// command it names (start-up cost: `run` never loads ssh2, the endpoint, PSRP, transfer or the queue); `--help`
// without a command and unknown commands load them all, in this order.
export const commands: Record<string, () => Promise<{ register: (program: Command) => void }>> = {
  run: () => import('./run.js'),
  ps: () => import('./ps.js'),
  shell: () => import('./shell.js'),
  session: () => import('./session.js'),
  copy: () => import('./copy.js'),
  fetch: () => import('./fetch.js'),
  doctor: () => import('./doctor.js'),
  serve: () => import('./serve.js'),
  demo: () => import('./demo.js'),
  worker: () => import('./worker.js'),
  completion: () => import('./completion.js').then((m) => m.withCommands(commands)),
};
