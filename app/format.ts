// How the page writes sizes and times: one way everywhere.

export function formatBytes(bytes: number): string {
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** Like formatMs, with the hundredths that sub-millisecond times need. */
export function formatFineMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)} ms` : formatMs(ms);
}
