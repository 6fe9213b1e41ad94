import { randomBytes } from 'node:crypto';
import { FractaError } from '../errors.js';

const RUN_ID = /^\d{8}-\d{6}-[0-9a-f]{6}$/;

/** Sortable by time, unique enough across processes sharing one FRACTA_HOME, safe as a folder name. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

export function checkRunId(id: string): string {
  if (!RUN_ID.test(id)) {
    throw new FractaError('run_not_found', `"${id}" is not a run id (they look like 20261124-013000-3f9c2a; list them with runs)`, 'run_id');
  }
  return id;
}
