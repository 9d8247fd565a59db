// report.json: the report object with snake_case keys (as every churnflow JSON file), two-space
// indented, trailing newline. Key order is the object's own, so the bytes are deterministic.
import type { BacktestReport } from './backtest-report.js';

function snake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** Converts object keys recursively; arrays and primitives pass through. */
export function toSnakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toSnakeKeys);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [snake(k), toSnakeKeys(v)]));
  return value;
}

export function reportJson(report: BacktestReport): string {
  return `${JSON.stringify(toSnakeKeys(report), null, 2)}\n`;
}
