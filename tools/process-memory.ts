// Resident memory of a process and all its descendants (a browser and its
// renderer, GPU and utility processes), from /proc: Linux only.
import { readdirSync, readFileSync } from 'node:fs';

function parentOf(pid: string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields count from the last ')'.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined; // it ended meanwhile
  }
}

/** A process's resident (Rss) and proportional (Pss: shared pages split among their sharers) memory. */
function memoryOf(pid: number): { rss: number; pss: number } {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
    return { rss: kb('Rss') * 1024, pss: kb('Pss') * 1024 };
  } catch {
    return { rss: 0, pss: 0 }; // it ended meanwhile
  }
}

/**
 * Memory of `root` and every process below it: the sum of their resident
 * memory (`rss`: a page shared by several, Chromium's own code say, counts in
 * each) and of their proportional shares (`pss`: shared pages split, so the
 * sum is what the tree really holds).
 */
export function treeMemory(root: number): { rss: number; pss: number } {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = parentOf(entry);
    if (ppid !== undefined) parent.set(Number(entry), ppid);
  }
  const total = { rss: 0, pss: 0 };
  for (const pid of parent.keys()) {
    let at: number | undefined = pid;
    while (at !== undefined && at > 1 && at !== root) at = parent.get(at);
    if (at !== root) continue;
    const { rss, pss } = memoryOf(pid);
    total.rss += rss;
    total.pss += pss;
  }
  return total;
}
