// The config of an offline command: the file (-c), CHURNFLOW_* env, and the few flags that stand for a
// config key (`--allowed-lateness-ms` → engine.allowedLatenessMs), so the one event-time policy reads
// one value whichever way it was given.
import type { ChurnflowConfig } from '../config/config-schema.js';
import { loadConfig } from '../config/load-config.js';

export function loadCommandConfig(flags: { readonly config?: string; readonly allowedLatenessMs?: number }): Readonly<ChurnflowConfig> {
  return loadConfig({
    ...(flags.config ? { file: flags.config } : {}),
    ...(flags.allowedLatenessMs !== undefined ? { overrides: { engine: { allowedLatenessMs: flags.allowedLatenessMs } } } : {}),
  });
}
