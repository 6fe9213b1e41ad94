/** A tool's zod schema as the JSON Schema `tools/list` gives (without `$schema`, which clients do not want). */
import { z } from 'zod';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';

export function toolJsonSchema(schema: z.ZodType, io: 'input' | 'output'): Tool['inputSchema'] {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest as Tool['inputSchema'];
}
