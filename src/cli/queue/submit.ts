import { InvalidArgumentError } from '../../index.js';
import type { RunSpec, FanoutFlags } from '../fanout-run.js';
export async function submitRun(_hosts: string[], _spec: RunSpec, _f: FanoutFlags): Promise<number> { throw new InvalidArgumentError('--queue: not available yet'); }
