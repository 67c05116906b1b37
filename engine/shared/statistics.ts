// Statistics for every figure the project prints or draws (benchmarks, the
// soak, the page's measurements): medians with spread, never a lone mean.

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  p25: number;
  p75: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? NaN;
  const b = sorted[hi] ?? NaN;
  return a + (b - a) * (pos - lo);
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    min: sorted[0] ?? NaN,
    max: sorted.at(-1) ?? NaN,
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
  };
}

/** The quartiles and extremes, named as the benchmarks' JSON files name them. */
export function quartiles(values: readonly number[]): { p50: number; p25: number; p75: number; min: number; max: number; n: number } {
  const s = summarize(values);
  return { p50: s.median, p25: s.p25, p75: s.p75, min: s.min, max: s.max, n: s.n };
}

export function formatSummary(s: Summary, unit: string, digits = 0): string {
  const f = (v: number) => v.toFixed(digits);
  return `median ${f(s.median)} ${unit} (IQR ${f(s.p25)}–${f(s.p75)}, min ${f(s.min)}, max ${f(s.max)}, n=${s.n})`;
}

export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/** Nearest rank: p99 of few samples is their maximum, never an interpolation below it. */
export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}
