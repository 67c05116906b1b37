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

function residentBytes(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return Number(kb ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** The sum of VmRSS over `root` and every process below it (shared pages count once per process). */
export function treeResidentBytes(root: number): number {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = parentOf(entry);
    if (ppid !== undefined) parent.set(Number(entry), ppid);
  }
  let total = 0;
  for (const pid of parent.keys()) {
    let at: number | undefined = pid;
    while (at !== undefined && at > 1 && at !== root) at = parent.get(at);
    if (at === root) total += residentBytes(pid);
  }
  return total;
}
