import { randomBytes } from 'node:crypto';
import { FractaError } from './errors.js';

const RUN_ID = /^\d{8}-\d{6}-\d{3}[0-9a-f]{5}$/;

/**
 * Sortable by creation time to the millisecond (date-time-millis), then 20 random bits so that
 * processes sharing one FRACTA_HOME do not collide; safe as a folder name.
 */
export function newRunId(now = new Date()): string {
  const iso = now.toISOString(); // 2026-11-24T01:35:24.123Z
  const stamp = `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}-${iso.slice(20, 23)}`;
  return `${stamp}${randomBytes(3).toString('hex').slice(0, 5)}`;
}

export function checkRunId(id: string): string {
  if (!RUN_ID.test(id)) {
    throw new FractaError('run_not_found', `"${id}" is not a run id (they look like 20261124-013000-1233f9c2; list them with runs)`, 'run_id');
  }
  return id;
}

export function isRunId(value: string | undefined): value is string {
  return value !== undefined && RUN_ID.test(value);
}
