/**
 * The benchmark's output: the table (Markdown, also printed), the targets met and missed, and the
 * generated part of docs/benchmarks.md (between its markers; the rest of that file is written by
 * hand and kept as it is).
 */

export const BEGIN = '<!-- bench:results:begin (written by npm run bench; edits here are overwritten) -->';
export const END = '<!-- bench:results:end -->';

function fmt(value, unit = 'ms') {
  if (value === undefined || value === null || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit}`;
}

function spread(stats, unit) {
  if (!stats || stats.n < 2) return '';
  const [low, high] = stats.n >= 10 ? [stats.p10, stats.p90] : [stats.min, stats.max];
  return ` (${fmt(low, unit).replace(` ${unit}`, '')}–${fmt(high, unit)})`;
}

function cell(stats, unit) {
  if (!stats) return '—';
  return `**${fmt(stats.median, unit)}**${spread(stats, unit)}`;
}

/** The median of per-pair ratios where fracta and its floor ran back to back, else the ratio of medians. */
function ratioOf(row) {
  if (!row.fracta || !row.floor || row.compare === false || !row.floor.median) return undefined;
  return row.ratio ? row.ratio.median : row.fracta.median / row.floor.median;
}

function addedOf(row) {
  if (!row.fracta || !row.floor || row.compare === false) return undefined;
  return row.delta ? row.delta.median : row.fracta.median - row.floor.median;
}

/** { met: true|false|undefined, text } for a row's target. */
export function judge(row) {
  const target = row.target;
  if (!target || target.kind === 'none' || row.unavailable || !row.fracta) return { met: undefined, text: '' };
  const unit = row.unit ?? 'ms';
  const ratio = ratioOf(row);
  const added = addedOf(row);
  switch (target.kind) {
    case 'ratio': {
      const met = ratio <= target.max;
      const over = (ratio - target.max) * row.floor.median;
      return { met, text: met ? `${ratio.toFixed(2)}×` : `${ratio.toFixed(2)}×, ${fmt(over, unit)} over the ${target.max}× bar` };
    }
    case 'overhead': {
      const met = ratio <= target.maxRatio || added <= target.maxAddedMs;
      return {
        met,
        text: met ? `+${fmt(added)}, ${ratio.toFixed(3)}×` : `+${fmt(added)} (${ratio.toFixed(2)}×): ${fmt(added - target.maxAddedMs)} over the ${target.maxAddedMs} ms bar`,
      };
    }
    case 'absolute': {
      const met = row.fracta.median <= target.max;
      const worst = row.fracta.max > target.max ? `; worst ${fmt(row.fracta.max, unit)}` : '';
      return { met, text: met ? `${fmt(row.fracta.median, unit)}${worst}` : `${fmt(row.fracta.median, unit)}: ${fmt(row.fracta.median - target.max, unit)} over${worst}` };
    }
    default:
      return { met: undefined, text: '' };
  }
}

function mark(verdict) {
  if (verdict.met === true) return '✅ met';
  if (verdict.met === false) return '❌ missed';
  return '';
}

const escape = (text) => String(text).replace(/\|/g, '\\|');

export function renderTable(rows) {
  const lines = [
    '| Measurement | n | fracta, median (spread) | floor, median (spread) | added | ratio | target | |',
    '| --- | --: | --: | --: | --: | --: | --- | --- |',
  ];
  for (const row of rows) {
    const unit = row.unit ?? 'ms';
    const label = `${row.context ? '_context:_ ' : ''}${row.name}${row.floorName ? `<br>_floor: ${row.floorName}_` : ''}`;
    if (row.unavailable || row.outcome) {
      lines.push(`| ${escape(label)} | ${row.n ?? ''} | ${escape(row.unavailable ?? row.outcome)} | | | | ${escape(row.target?.text ?? '')} | ${row.outcomeMark ?? ''} |`);
      continue;
    }
    const verdict = judge(row);
    const ratio = ratioOf(row);
    const added = addedOf(row);
    const extra = row.extra ? `<br>${row.extra}` : '';
    lines.push(
      `| ${escape(label)} | ${row.fracta?.n ?? ''} | ${cell(row.fracta, unit)}${escape(extra)} | ${row.floor ? cell(row.floor, unit) : '—'} | ${
        added === undefined ? '—' : `${added >= 0 ? '+' : ''}${fmt(added, unit)}`
      } | ${ratio === undefined ? '—' : `${ratio.toFixed(2)}×`} | ${escape(row.target?.text ?? '')} | ${mark(verdict)} |`,
    );
  }
  return lines.join('\n');
}

/** One line per target: met, or missed and by how much. */
export function targetSummary(rows) {
  const lines = [];
  for (const row of rows) {
    if (!row.target || row.target.kind === 'none') continue;
    if (row.unavailable) {
      lines.push(`- ⚠️ ${row.name}: ${row.unavailable}`);
      continue;
    }
    const verdict = judge(row);
    lines.push(`- ${verdict.met ? '✅' : '❌'} ${row.name}: ${verdict.text} (target ${row.target.text})`);
  }
  return lines;
}

function meanings(rows) {
  const seen = new Set();
  const lines = [];
  for (const row of rows) {
    if (!row.meaning || seen.has(row.meaning)) continue;
    seen.add(row.meaning);
    lines.push(`- **${row.name}**: ${row.meaning}`);
  }
  return lines;
}

export function renderResults(run, rows) {
  const { machine, load } = run;
  const busy = Number(load.before.split(' ')[0]) > machine.cores * 0.5 || Number(load.after.split(' ')[0]) > machine.cores * 0.5;
  return [
    BEGIN,
    '',
    `## Last run: ${run.date}${run.quick ? ' (quick: fewer repetitions)' : ''}`,
    '',
    `- Command: \`${run.command}\` (${run.seconds.toFixed(0)} s after the build)`,
    `- Machine: ${machine.cpu}, ${machine.memory} RAM; ${machine.os}`,
    `- Node ${machine.node}; fracta ${machine.fracta}`,
    `- Load average (1, 5, 15 min) before: ${load.before}; after: ${load.after}${
      busy ? ` — **the machine was busy** (more than half its ${machine.cores} cores in use by other work): every number is noisy and absolute times are inflated; ratios against floors measured in the same run hold up better` : ''
    }`,
    '',
    'Medians; the spread in parentheses is p10–p90 when n ≥ 10, else min–max. Where fracta and its floor',
    'ran back to back (pairs), "added" and "ratio" are the medians of the per-pair differences and ratios,',
    'which a burst of load on the machine skews less than a difference or ratio of the two medians.',
    '',
    renderTable(rows),
    '',
    '### Targets',
    '',
    ...targetSummary(rows),
    '',
    '### What each number means to a user',
    '',
    ...meanings(rows),
    '',
    END,
  ].join('\n');
}

const SKELETON = `# Benchmarks

\`npm run bench\` measures fracta on the machine it runs on, against floors measured in the same run,
and writes its table here (between the markers below; the rest of this file is written by hand).

${BEGIN}
${END}
`;

/** docs/benchmarks.md with the generated part replaced and the hand-written rest kept. */
export function renderDocs(existing, run, rows) {
  const base = existing.includes(BEGIN) && existing.includes(END) ? existing : SKELETON;
  const before = base.slice(0, base.indexOf(BEGIN));
  const after = base.slice(base.indexOf(END) + END.length);
  return `${before}${renderResults(run, rows)}${after}`;
}
