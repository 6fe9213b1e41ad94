/**
 * fracta's side of the retry-limit plugin (retry-limit-plugin.ts): where the plugin is, and what it
 * is told and prints.
 */

/** The environment variable that carries the runtime's max_retries to the plugin. */
export const MAX_RETRIES_ENV = 'FRACTA_OPENCODE_MAX_RETRIES';

/** The `error.name` of the line the plugin prints when it gives up. */
export const RETRY_LIMIT_ERROR = 'FractaRetryLimitError';

/** The plugin as opencode's `plugin` config names it: a file URL next to this module (in dist/ once built). */
export const RETRY_LIMIT_PLUGIN = new URL('./retry-limit-plugin.js', import.meta.url).href;
