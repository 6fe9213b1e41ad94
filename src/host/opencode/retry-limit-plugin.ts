/**
 * An opencode plugin, loaded by opencode itself (never imported by fracta): opencode retries a failed
 * model call five times with back-off, about a minute before a dead endpoint or a 500 is reported, and
 * has no setting for it. Each retry is announced as a `session.status` event; past the runtime's
 * `max_retries` (FRACTA_OPENCODE_MAX_RETRIES) this prints the failure as an `error` line of
 * `--format json` and aborts the session, so the run fails at once with the provider's message.
 * It must stay dependency-free: it runs inside opencode's Bun runtime from fracta's install folder.
 */

// Kept in step with retry-limit.ts (not imported: opencode calls every export of this module as a plugin).
const MAX_RETRIES_ENV = 'FRACTA_OPENCODE_MAX_RETRIES';
const RETRY_LIMIT_ERROR = 'FractaRetryLimitError';

interface StatusEvent {
  readonly type: string;
  readonly properties?: {
    readonly sessionID?: string;
    readonly status?: { readonly type?: string; readonly attempt?: number; readonly message?: string };
  };
}

interface PluginInput {
  readonly client: { readonly session: { abort(options: { path: { id: string } }): Promise<unknown> } };
}

// The module's only export.
export const FractaRetryLimit = async ({ client }: PluginInput) => {
  const limit = Number(process.env[MAX_RETRIES_ENV]);
  const stopped = new Set<string>();
  return {
    event: async ({ event }: { event: StatusEvent }): Promise<void> => {
      if (event.type !== 'session.status' || !Number.isFinite(limit)) return;
      const sessionID = event.properties?.sessionID;
      const status = event.properties?.status;
      if (!sessionID || status?.type !== 'retry' || !((status.attempt ?? 0) > limit) || stopped.has(sessionID)) return;
      stopped.add(sessionID);
      const line = {
        type: 'error',
        timestamp: Date.now(),
        sessionID,
        error: { name: RETRY_LIMIT_ERROR, data: { message: status.message ?? 'the model call failed', retries: limit } },
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
      await client.session.abort({ path: { id: sessionID } }).catch(() => undefined);
    },
  };
};
