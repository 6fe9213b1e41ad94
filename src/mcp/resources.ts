/**
 * Each run's logs as MCP resources: fracta://runs/{run_id}/log (stdout) and .../stderr. A large log is
 * read in pages (`?offset=N`); each page says where the next one starts.
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { ReadResourceResult, Resource, ResourceTemplate } from '@modelcontextprotocol/sdk/types.js';
import { FractaError } from '../errors.js';
import type { Fracta } from '../service.js';

/** One page of a log; whole logs up to this size come in one read. */
// 1 MiB of log is at most 6 MiB of JSON (a control byte is written \u0001), under the SDK client's 10 MiB.
export const LOG_PAGE_BYTES = 1024 * 1024;

const URI = /^fracta:\/\/runs\/([^/?#]+)\/(log|stderr)(?:\?offset=(\d+))?$/;

export const RESOURCE_TEMPLATES: ResourceTemplate[] = [
  { uriTemplate: 'fracta://runs/{run_id}/log', name: 'run-log', title: "A run's output (stdout)", mimeType: 'text/plain' },
  { uriTemplate: 'fracta://runs/{run_id}/stderr', name: 'run-stderr', title: "A run's stderr", mimeType: 'text/plain' },
];

export async function listLogResources(fracta: Fracta): Promise<Resource[]> {
  const runs = await fracta.runs({ limit: 50 });
  return runs.map((run) => ({
    uri: run.log_uri,
    name: `run ${run.run_id} log`,
    description: `${run.runtime}: ${run.status}: ${run.task_preview.slice(0, 80)}`,
    mimeType: 'text/plain',
  }));
}

/** The MCP specification's error code for a resource that does not exist. */
const RESOURCE_NOT_FOUND = -32002;

export async function readLogResource(fracta: Fracta, uri: string): Promise<ReadResourceResult> {
  const match = URI.exec(uri);
  // MCP's code for a resource that does not exist (-32002), not an internal error: the client asked for the wrong thing.
  if (!match) throw new McpError(RESOURCE_NOT_FOUND, `Resource not found: ${uri} (use fracta://runs/{run_id}/log or fracta://runs/{run_id}/stderr)`, { uri });
  const [, runId, kind, offset] = match;
  let chunk: Awaited<ReturnType<Fracta['readLog']>>;
  try {
    chunk = await fracta.readLog(runId!, kind === 'log' ? 'stdout' : 'stderr', Number(offset ?? 0), LOG_PAGE_BYTES);
  } catch (error) {
    if (error instanceof FractaError && error.code === 'run_not_found') throw new McpError(RESOURCE_NOT_FOUND, `Resource not found: ${uri}: ${error.message}`, { uri });
    throw error;
  }
  const more = chunk.next_offset < chunk.total_bytes;
  return {
    contents: [
      {
        uri,
        mimeType: 'text/plain',
        text: chunk.text,
        _meta: {
          'fracta/offset': chunk.offset,
          'fracta/total_bytes': chunk.total_bytes,
          ...(more ? { 'fracta/next': `fracta://runs/${runId}/${kind}?offset=${chunk.next_offset}` } : {}),
        },
      },
    ],
  };
}
