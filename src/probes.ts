/**
 * What each agent advertised the last time it was probed (`fracta runtimes --probe`), kept as
 * `$FRACTA_HOME/probes/<runtime>.json`: read back bounded and checked, since anything under
 * FRACTA_HOME may have been written by a child.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readStateFileSync } from './read-bounded.js';

export const probeSchema = z.object({
  runtime: z.string(),
  probed_at: z.string(),
  /** Null when the agent did not answer (then `error` says why). */
  advertised: z
    .object({
      agent: z.string().nullable(),
      protocol_version: z.number(),
      load_session: z.boolean(),
      resume_session: z.boolean(),
      auth_methods: z.array(z.string()),
      mcp: z.object({ http: z.boolean(), sse: z.boolean() }),
    })
    .nullable(),
  error: z.string().nullable(),
});
export type Probe = z.infer<typeof probeSchema>;
/** What an ACP agent said of itself in `initialize`. */
export type Advertised = NonNullable<Probe['advertised']>;

function probeFile(home: string, runtime: string): string {
  return path.join(home, 'probes', `${path.basename(runtime)}.json`);
}

export function writeProbe(home: string, probe: Probe): void {
  const file = probeFile(home, probe.runtime);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.rmSync(temporary, { force: true });
  fs.writeFileSync(temporary, `${JSON.stringify(probe, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  fs.renameSync(temporary, file);
}

/** The last probe of a runtime, or null when there is none (or none fracta could have written). */
export function readProbe(home: string, runtime: string): Probe | null {
  try {
    const parsed = probeSchema.safeParse(JSON.parse(readStateFileSync(probeFile(home, runtime), 64 * 1024)));
    return parsed.success && parsed.data.runtime === runtime ? parsed.data : null;
  } catch {
    return null;
  }
}
