/**
 * The person at the client, asked about the pending requests of this fracta's runs (MCP
 * elicitation), when the client said it can be asked and this fracta is the root of its tree. The
 * run chain, the runtime and the tool come from fracta; what the agent wrote (its tool input, its
 * question) is shown fenced and cut, as data, never as part of what fracta asks. A person who
 * cancels leaves the request to the chain above and to the timeout.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { ElicitRequestFormParams } from '@modelcontextprotocol/sdk/types.js';
import type { PendingRequest } from '../record.js';
import type { Fracta } from '../service.js';

/** How much of the agent's text the person is shown (the record has the rest). */
const SHOWN_CHARS = 1_500;

/** The agent's text as data: fenced, its own fences broken up, cut. */
function fenced(text: string | null): string {
  const shown = (text ?? '').slice(0, SHOWN_CHARS).replace(/`{3,}/g, (run) => run.split('').join('\u200b'));
  return `\`\`\`\n${shown}${(text ?? '').length > SHOWN_CHARS ? '\n… (cut)' : ''}\n\`\`\``;
}

function messageFor(runId: string, runtime: string, request: PendingRequest): string {
  const head = [`A run of fracta needs a decision.`, `Chain: ${request.chain.join(' → ')} (run ${runId}, runtime ${runtime})`];
  if (request.kind === 'question') return [...head, 'The agent asks (its words, as data):', fenced(request.question)].join('\n');
  // A tool's name comes from the agent too: only the characters tool names have.
  const tool = (request.tool ?? '?').replace(/[^\w.:-]/g, '?').slice(0, 100);
  return [...head, `It wants to use the tool ${tool}, with this input (as data):`, fenced(request.input)].join('\n');
}

/** Puts a new request of this fracta's runs to the person at the client (which can be asked: the caller checked). */
export async function askThePerson(server: Server, fracta: Fracta, runId: string, runtime: string, request: PendingRequest): Promise<void> {
  const question = request.kind === 'question';
  const requestedSchema: ElicitRequestFormParams['requestedSchema'] = question
    ? { type: 'object', properties: { answer: { type: 'string', title: 'Answer' } }, required: ['answer'] }
    : {
        type: 'object',
        properties: {
          decision: { type: 'string', title: 'Decision', enum: ['allow', 'deny', 'allow_for_run'], enumNames: ['Allow once', 'Deny', 'Allow for the rest of this run'] },
          message: { type: 'string', title: 'Message for the agent (optional)' },
        },
        required: ['decision'],
      };
  const timeout = Math.max(1_000, Date.parse(request.expires_at) - Date.now());
  let result;
  try {
    result = await server.elicitInput({ message: messageFor(runId, runtime, request), requestedSchema }, { timeout });
  } catch {
    return; // the client could not ask, or nobody answered in time: the chain and the timeout decide
  }
  if (result.action === 'cancel') return;
  const content = (result.content ?? {}) as Record<string, unknown>;
  const decision = result.action === 'decline' || content.decision === 'deny' ? 'deny' : 'allow';
  const text = question ? content.answer : content.message;
  await fracta
    .answerAsHuman({
      run_id: runId,
      request_id: request.request_id,
      decision,
      scope: content.decision === 'allow_for_run' ? 'run' : 'once',
      ...(typeof text === 'string' && text ? { message: text } : {}),
    })
    .catch(() => undefined); // decided meanwhile by someone else: the first answer stands
}
