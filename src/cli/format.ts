/** Human output of the CLI: short, aligned, and honest about what failed. */
import type { RunRecord } from '../record.js';
import type { WaitResult } from '../runs/wait-many.js';
import type { RuntimeInfo } from '../runtime-info.js';

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

export function formatRuntimes(runtimes: RuntimeInfo[], source: string): string {
  const rows = [['RUNTIME', 'HOST', 'TIER', 'CAPABILITIES', 'MODEL', 'TIERS', 'COST', 'COMMAND']];
  for (const r of runtimes) {
    const caps = Object.entries(r.capabilities)
      .filter(([, on]) => on)
      .map(([name]) => name)
      .join(',');
    const tiers = Object.entries(r.model_tiers)
      .map(([tier, model]) => `${tier}=${model}`)
      .join(',');
    rows.push([
      `${r.name}${r.default ? '*' : ''}`,
      r.host,
      r.tier,
      caps || '-',
      r.model ?? '-',
      tiers || '-',
      r.money,
      // On a cluster the command is the image's: this machine's PATH says nothing about it.
      r.backend === 'kubernetes' ? `${r.command} (in ${r.kubernetes?.image ?? 'the image'})` : (r.command_path ?? `${r.command} (NOT FOUND on PATH)`),
    ]);
  }
  const k8s = runtimes
    .filter((r) => r.kubernetes)
    .map(
      (r) =>
        `  ${r.name}${r.backend === 'kubernetes' ? ' (backend: kubernetes)' : ''}: namespace ${r.kubernetes!.namespace ?? '-'}, image ${r.kubernetes!.image ?? '-'}, env ${
          r.kubernetes!.env.map((e) => (e.secret_ref ? `${e.name}<-secret ${e.secret_ref.name}/${e.secret_ref.key}` : e.name)).join(' ') || '-'
        }`,
    );
  const probed = runtimes
    .filter((r) => r.probe)
    .map(({ name, probe }) => {
      const said = probe!.advertised;
      const what = said
        ? `${said.agent ?? 'an ACP agent'}; load session ${said.load_session ? 'yes' : 'no'}, resume ${said.resume_session ? 'yes' : 'no'}; auth ${said.auth_methods.join(',') || 'none'}`
        : `no answer: ${probe!.error}`;
      return `  ${name}: ${what} (probed ${probe!.probed_at})`;
    });
  return [table(rows), '', `* default runtime. Config: ${source}`, ...(probed.length ? ['ACP agents, as last probed (fracta runtimes --probe):', ...probed] : []), 'COST: how a run\'s cost is known (pricing: fracta.yaml, reported: by the CLI, built-in: fracta\'s table, unknown: budget.usd cannot be held)', ...(k8s.length ? ['Kubernetes settings (for backend: kubernetes, per runtime or per spawn):', ...k8s] : [])].join('\n');
}

export function formatRuns(runs: RunRecord[]): string {
  if (runs.length === 0) return 'no runs';
  const rows = [['RUN', 'STATUS', 'RUNTIME', 'STARTED', 'COST', 'BRANCH', 'TASK']];
  for (const run of runs) {
    rows.push([
      run.run_id,
      run.status,
      run.runtime,
      run.created_at.replace('T', ' ').slice(0, 19),
      formatUsd(run.spent.usd),
      run.git?.branch ?? '-',
      run.task_preview.replace(/\s+/g, ' ').slice(0, 50),
    ]);
  }
  return table(rows);
}

/** Dollars as a person reads them: cents, or a fraction of a cent to four places; '-' when unknown. */
export function formatUsd(usd: number | null): string {
  if (usd === null) return '-';
  return `$${usd.toFixed(usd !== 0 && usd < 0.1 ? 4 : 2)}`;
}

function formatBudget(record: RunRecord): string[] {
  const lines = [`spent:     ${formatUsd(record.spent.usd)}, ${record.spent.tokens} tokens, ${record.spent.turns} turns`];
  const { budget, tree_spent: tree } = record;
  if (!budget) return lines;
  const limits = [
    budget.usd !== null ? `${formatUsd(budget.usd)} (${formatUsd(budget.left.usd)} left)` : '',
    budget.tokens !== null ? `${budget.tokens} tokens (${budget.left.tokens} left)` : '',
    budget.turns !== null ? `${budget.turns} turns (${budget.left.turns} left)` : '',
    budget.runs !== null ? `${budget.runs} runs (${budget.left.runs} left)` : '',
    budget.deadline !== null ? `until ${budget.deadline}` : '',
  ].filter(Boolean);
  lines.push(`budget:    ${limits.join(', ')}`);
  if (tree) lines.push(`tree:      ${formatUsd(tree.usd)}, ${tree.tokens} tokens, ${tree.turns} turns in ${tree.runs} run(s)`);
  if (budget.exhausted) lines.push(`exhausted: ${budget.exhausted}`);
  return lines;
}

export function formatRecord(record: RunRecord): string {
  const lines = [
    `run:       ${record.run_id}`,
    `status:    ${record.status}`,
    `runtime:   ${record.runtime} (host ${record.host}, ${record.tier})`,
    `model:     ${record.model ?? '-'}`,
    `started:   ${record.started_at ?? '-'}`,
    `ended:     ${record.ended_at ?? '-'}`,
    `exit:      ${record.signal ?? record.exit_code ?? '-'}`,
    `workspace: ${record.workspace}${record.workspace_removed ? ' (removed)' : ''}`,
    `log:       ${record.stdout_path}`,
  ];
  if (record.kubernetes) lines.push(`job:       ${record.kubernetes.namespace}/${record.kubernetes.job}${record.kubernetes.context ? ` (context ${record.kubernetes.context})` : ''}`);
  if (record.resume_token) lines.push(`resume:    ${record.resume_token}`);
  lines.push(...formatBudget(record));
  if (record.git) {
    const { branch, base_branch, commits, uncommitted, diff } = record.git;
    lines.push(`branch:    ${branch ?? '-'} (from ${base_branch ?? record.git.base_commit?.slice(0, 12) ?? '-'})`);
    lines.push(`changes:   ${commits.length} commit(s), ${uncommitted.length} uncommitted, ${diff.files.length} file(s) +${diff.insertions} -${diff.deletions}`);
  }
  if (record.error) lines.push(`error:     [${record.error.code}] ${record.error.message}`);
  for (const warning of record.warnings) lines.push(`warning:   ${warning}`);
  if (record.output) lines.push('', record.output);
  return lines.join('\n');
}

/** `fracta wait`: a row per run, which are ready, and the output of the ready ones that succeeded. */
export function formatWait(result: WaitResult): string {
  const ready = new Set(result.ready);
  const rows = [['RUN', 'STATUS', 'READY', 'RUNTIME', 'ERROR']];
  for (const run of result.runs) {
    const state = run.needs_input ? 'needs input' : run.awaiting_input ? 'awaiting input' : run.status;
    rows.push([run.run_id, state, ready.has(run.run_id) ? 'yes' : 'no', run.runtime, run.error ? `[${run.error.code}] ${run.error.message.split('\n')[0]}` : '']);
  }
  const outputs = result.runs.filter((run) => ready.has(run.run_id) && run.status === 'succeeded' && run.output).map((run) => `--- ${run.run_id}\n${run.output}`);
  return [table(rows), `${result.ready.length} of ${result.runs.length} ready (mode ${result.mode})`, ...outputs].join('\n');
}
