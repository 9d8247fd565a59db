// A throwaway registry root holding copies of committed bundles: tests move its aliases, never models/.
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempRegistry(versions: readonly string[], name = 'churn-gbdt'): string {
  const root = mkdtempSync(join(tmpdir(), 'cf-registry-'));
  for (const v of versions) cpSync(join('models', name, v), join(root, name, v), { recursive: true });
  return root;
}
