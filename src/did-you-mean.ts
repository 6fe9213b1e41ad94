/** Names close to a mistyped one: "did you mean" for subcommands, runtimes, config keys and branches. */

/** Edit distance (insertions, deletions, substitutions, and two letters swapped: "wiat" is one from "wait"). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The names nearest to `wanted`, nearest first (a name holding it, or held by it, counts as nearest). */
export function closeNames(wanted: string, names: readonly string[], count = 5): string[] {
  return [...names]
    .map((name) => ({ name, score: name.includes(wanted) || wanted.includes(name) ? 0 : distance(wanted, name) }))
    .sort((a, b) => a.score - b.score || a.name.localeCompare(b.name))
    .slice(0, count)
    .map((entry) => entry.name);
}

/**
 * The one name a typo most likely meant, or undefined when none is close: at most a third of the
 * word's letters wrong (one for a short word), or the same word in another case.
 */
export function meant(wanted: string, names: readonly string[]): string | undefined {
  const lower = wanted.toLowerCase();
  let best: { name: string; score: number } | undefined;
  for (const name of names) {
    const score = distance(lower, name.toLowerCase());
    if (!best || score < best.score) best = { name, score };
  }
  if (!best || best.name === wanted) return undefined;
  return best.score <= Math.max(1, Math.floor(wanted.length / 3)) ? best.name : undefined;
}

/** ` (did you mean "x"?)`, or nothing. */
export function didYouMean(wanted: string, names: readonly string[]): string {
  const name = meant(wanted, names);
  return name === undefined ? '' : ` (did you mean "${name}"?)`;
}
