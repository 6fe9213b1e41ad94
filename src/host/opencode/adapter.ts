/**
 * The `opencode` host. (Placeholder while the adapter is being written: it validates no options of its
 * own and refuses to run.)
 */
import { FractaError } from '../../errors.js';
import type { AdapterDefinition } from '../adapters.js';
import { NO_CAPABILITIES, StreamNotSupported, type Host } from '../host.js';

export const opencodeAdapter: AdapterDefinition<Record<string, never>> = {
  name: 'opencode',
  optionsShape: {},
  create: (runtime): Host => {
    const unavailable = (): never => {
      throw new FractaError('config_invalid', `the opencode adapter is not available yet (runtime "${runtime.name}")`);
    };
    return {
      adapter: 'opencode',
      resumeInSameWorkdir: false,
      capabilities: () => NO_CAPABILITIES,
      command: () => 'opencode',
      writeWorkspace: async () => undefined,
      bootstrap: unavailable,
      buildBatchCommand: unavailable,
      parseBatchOutput: unavailable,
      buildStreamCommand: () => {
        throw new StreamNotSupported(runtime.name);
      },
    };
  },
};
