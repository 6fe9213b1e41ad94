// fracta board: the page. Plain DOM and two EventSources (every run's changes, and the selected
// run's log and events); no framework, no polling. The token comes from the page's own URL and goes
// back in the query for reads and in the x-fracta-token header for every action.
const token = new URLSearchParams(location.search).get('token') ?? '';
const $ = (id) => document.getElementById(id);
const runs = new Map();
let selected = null;
let live = null;
const LINE_PX = 16;
const MAX_LOG_LINES = 200_000;
const MAX_EVENTS = 500;
let logLines = [''];

const escapeHtml = (text) => String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const withToken = (path) => `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;

async function getJson(path) {
  const response = await fetch(withToken(path));
  if (!response.ok) throw new Error((await response.json().catch(() => ({}))).error?.message ?? `HTTP ${response.status}`);
  return response.json();
}

async function act(path, body) {
  const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-fracta-token': token }, body: JSON.stringify(body ?? {}) });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error?.message ?? `HTTP ${response.status}`);
  return answer;
}

/** The state a person reads: a run waiting for a decision is "waiting", whatever its process does. */
function stateOf(run) {
  if (run.needs_input) return { key: 'waiting', label: 'waiting for you' };
  if (run.awaiting_input) return { key: 'waiting', label: 'awaiting message' };
  return { key: run.status, label: run.status.replace('_', ' ') };
}

function seconds(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function elapsed(run) {
  const start = Date.parse(run.started_at ?? run.created_at);
  const end = run.ended_at ? Date.parse(run.ended_at) : Date.now();
  return seconds(end - start);
}

function ago(iso) {
  return `${seconds(Date.now() - Date.parse(iso))} ago`;
}

function money(run) {
  const spent = run.cost_usd ?? run.spent?.usd;
  const text = spent === null || spent === undefined ? '' : `$${Number(spent).toFixed(spent < 0.01 ? 4 : 2)}`;
  const budget = run.budget?.usd;
  return budget ? `${text || '$0'} of $${budget}` : text;
}

function rowHtml(run) {
  const state = stateOf(run);
  const meta = [run.runtime, run.model, run.tier, elapsed(run), money(run)].filter(Boolean).map(escapeHtml).join(' · ');
  return `<div class="row"><span class="status ${state.key}">${escapeHtml(state.label)}</span><span class="task" title="${escapeHtml(run.task_preview)}">${escapeHtml(run.task_preview)}</span><span class="meta" data-elapsed="${escapeHtml(run.run_id)}">${meta}</span></div>`;
}

function treeHtml(list, byParent) {
  return list
    .map((run) => {
      const children = byParent.get(run.run_id) ?? [];
      const group = children.length ? `<ul role="group">${treeHtml(children, byParent)}</ul>` : '';
      return `<li role="treeitem" id="run-${escapeHtml(run.run_id)}" data-run="${escapeHtml(run.run_id)}" aria-selected="${run.run_id === selected}" tabindex="${run.run_id === selected ? 0 : -1}"${children.length ? ' aria-expanded="true"' : ''}>${rowHtml(run)}${group}</li>`;
    })
    .join('');
}

let renderQueued = false;
function render() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    const all = [...runs.values()];
    const byParent = new Map();
    const roots = [];
    for (const run of all) {
      if (run.parent_run && runs.has(run.parent_run)) byParent.set(run.parent_run, [...(byParent.get(run.parent_run) ?? []), run]);
      else roots.push(run);
    }
    for (const children of byParent.values()) children.sort((a, b) => a.created_at.localeCompare(b.created_at));
    roots.sort((a, b) => b.created_at.localeCompare(a.created_at));
    const focused = document.activeElement?.dataset?.run;
    $('tree').innerHTML = treeHtml(roots, byParent);
    if (focused) document.getElementById(`run-${focused}`)?.focus();
    if (!selected && roots[0]) $('tree').firstElementChild.tabIndex = 0;
    $('empty').hidden = all.length > 0;
    const counts = {};
    for (const run of all) counts[stateOf(run).key] = (counts[stateOf(run).key] ?? 0) + 1;
    $('counts').textContent = Object.entries(counts).map(([key, n]) => `${n} ${key}`).join(', ');
    if (selected && runs.has(selected)) renderDetail(runs.get(selected));
  });
}

function renderDetail(run) {
  const state = stateOf(run);
  const git = run.git ? `${escapeHtml(run.git.branch ?? '-')} from ${escapeHtml(run.git.base_branch ?? '-')}: ${run.git.commits} commit(s), ${run.git.uncommitted} uncommitted, ${run.git.files} file(s) +${run.git.insertions} -${run.git.deletions}` : '';
  const fields = [
    ['run', run.run_id],
    ['status', `${state.label}${run.error ? ` [${run.error.code}] ${run.error.message}` : ''}`],
    ['runtime', `${run.runtime} (host ${run.host}, ${run.tier})`],
    ['model', run.model ?? '-'],
    ['started', run.started_at ? `${ago(run.started_at)} (${run.started_at})` : 'not yet'],
    ['elapsed', elapsed(run)],
    ['spend', money(run) || 'unknown'],
    ['budget', run.budget ? `${run.budget.left.usd !== null ? `$${run.budget.left.usd} left` : ''} ${run.budget.exhausted ?? ''}`.trim() || 'no money limit' : 'none'],
    ['branch', git || '-'],
    ['workspace', run.workspace],
    ['task', run.task_preview],
  ];
  $('detail-head').innerHTML = `<dl>${fields.map(([key, value]) => `<dt>${key}</dt><dd>${escapeHtml(value)}</dd>`).join('')}</dl>`;
  $('requests').innerHTML = run.pending_requests
    .map(
      (request) => `<div class="request" data-request="${escapeHtml(request.request_id)}" role="group" aria-label="Pending request ${escapeHtml(request.request_id)}">
  <strong>${request.kind === 'question' ? 'The agent asks' : `The agent wants to use ${escapeHtml(request.tool)}`}</strong> <span class="muted">(chain ${escapeHtml(request.chain.join(' → '))})</span>
  <pre>${escapeHtml(request.kind === 'question' ? request.question : request.input)}</pre>
  <label>Message <input class="answer-text" aria-label="Message or answer"></label>
  <button type="button" data-decision="allow">${request.kind === 'question' ? 'Answer' : 'Allow'}</button>
  <button type="button" data-decision="deny" class="danger">Deny</button>
</div>`,
    )
    .join('');
  const ended = Boolean(run.ended_at);
  $('cancel').disabled = ended;
  $('cancel-tree').disabled = ended && ![...runs.values()].some((other) => other.parent_run === run.run_id && !other.ended_at);
  $('send-form').hidden = !(run.stream && run.awaiting_input && !ended);
}

function renderLog(stick) {
  const box = $('log');
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - LINE_PX * 2;
  $('log-spacer').style.height = `${logLines.length * LINE_PX}px`;
  if (stick && atBottom) box.scrollTop = box.scrollHeight;
  // Only the lines in view (and a screen either side) are in the page: a long log costs nothing.
  const first = Math.max(0, Math.floor(box.scrollTop / LINE_PX) - 40);
  const count = Math.ceil(box.clientHeight / LINE_PX) + 80;
  const view = $('log-window');
  view.style.top = `${first * LINE_PX}px`;
  view.textContent = logLines.slice(first, first + count).join('\n');
  $('log-size').textContent = `(${logLines.length} lines)`;
}

function appendLog(text) {
  const parts = text.split('\n');
  logLines[logLines.length - 1] += parts[0];
  for (const part of parts.slice(1)) logLines.push(part);
  if (logLines.length > MAX_LOG_LINES) logLines = logLines.slice(-MAX_LOG_LINES);
  renderLog(true);
}

function describe(event) {
  switch (event.type) {
    case 'text': return `text: ${String(event.text ?? '').slice(0, 200)}`;
    case 'tool_call': return `tool call: ${event.name ?? event.tool ?? ''}`;
    case 'tool_result': return `tool result${event.is_error ? ' (error)' : ''}`;
    case 'usage': return 'usage';
    case 'result': return `turn done${event.is_error ? ' (error)' : ''}`;
    default: return event.type ?? 'event';
  }
}

function select(runId) {
  if (selected === runId) return;
  selected = runId;
  live?.close();
  logLines = [''];
  $('events').innerHTML = '';
  $('action-result').textContent = '';
  $('detail').hidden = false;
  render();
  renderLog(false);
  live = new EventSource(withToken(`/api/runs/${encodeURIComponent(runId)}/live`));
  live.addEventListener('log', (message) => appendLog(JSON.parse(message.data)));
  live.addEventListener('skipped', (message) => appendLog(`[${message.data} earlier bytes not shown: fracta logs ${runId}]\n`));
  live.addEventListener('event', (message) => {
    const list = $('events');
    const item = document.createElement('li');
    try {
      item.textContent = describe(JSON.parse(message.data));
    } catch {
      item.textContent = message.data.slice(0, 200);
    }
    list.append(item);
    while (list.children.length > MAX_EVENTS) list.firstElementChild.remove();
  });
}

async function runAction(label, work) {
  $('action-result').textContent = `${label}…`;
  try {
    const answer = await work();
    if (answer.record) runs.set(answer.record.run_id, answer.record);
    $('action-result').textContent = `${label}: done${answer.cancelled ? ` (${answer.cancelled.length} run(s))` : ''}`;
    render();
  } catch (error) {
    $('action-result').textContent = `${label} failed: ${error.message}`;
  }
}

$('tree').addEventListener('click', (event) => {
  const item = event.target.closest('li[role=treeitem]');
  if (item) {
    select(item.dataset.run);
    item.focus();
  }
});

$('tree').addEventListener('keydown', (event) => {
  const items = [...$('tree').querySelectorAll('li[role=treeitem]')];
  const index = items.indexOf(document.activeElement);
  const move = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: items.length - 1 }[event.key];
  if (move !== undefined && items[move]) {
    event.preventDefault();
    items[move].focus();
    select(items[move].dataset.run);
  } else if (event.key === 'Enter' && items[index]) {
    select(items[index].dataset.run);
    $('detail').querySelector('button:not([disabled])')?.focus();
  }
});

$('cancel').addEventListener('click', () => runAction('cancel', () => act(`/api/runs/${encodeURIComponent(selected)}/cancel`, {})));
$('cancel-tree').addEventListener('click', () => runAction('cancel with every run below', () => act(`/api/runs/${encodeURIComponent(selected)}/cancel`, { subtree: true })));
$('send-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const message = $('send-text').value;
  $('send-text').value = '';
  void runAction('send', () => act(`/api/runs/${encodeURIComponent(selected)}/send`, { message }));
});
$('requests').addEventListener('click', (event) => {
  const button = event.target.closest('button[data-decision]');
  if (!button) return;
  const box = button.closest('.request');
  const message = box.querySelector('.answer-text').value || undefined;
  void runAction(`answer ${button.dataset.decision}`, () => act(`/api/runs/${encodeURIComponent(selected)}/answer`, { request_id: box.dataset.request, decision: button.dataset.decision, message }));
});
$('log').addEventListener('scroll', () => renderLog(false));

// Elapsed times tick without a request: only the text changes.
setInterval(() => {
  for (const node of document.querySelectorAll('[data-elapsed]')) {
    const run = runs.get(node.dataset.elapsed);
    if (run && !run.ended_at) node.textContent = [run.runtime, run.model, run.tier, elapsed(run), money(run)].filter(Boolean).join(' · ');
  }
}, 1000);

async function start() {
  const { home, runs: list } = await getJson('/api/runs');
  $('home').textContent = home;
  for (const run of list) runs.set(run.run_id, run);
  render();
  const updates = new EventSource(withToken('/api/updates'));
  updates.addEventListener('open', () => ($('connection').textContent = 'live'));
  updates.addEventListener('error', () => ($('connection').textContent = 'reconnecting…'));
  updates.addEventListener('run', (message) => {
    const run = JSON.parse(message.data);
    runs.set(run.run_id, run);
    render();
  });
}

start().catch((error) => {
  $('connection').textContent = `cannot load: ${error.message}`;
});
