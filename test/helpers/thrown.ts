import { expect } from 'vitest';
import { FractaError } from '../../src/errors.js';

/** The FractaError that `run` throws; fails the test when it throws nothing or something else. */
export function thrown(run: () => unknown): FractaError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(FractaError);
    return error as FractaError;
  }
  throw new Error('expected a FractaError, but nothing was thrown');
}
