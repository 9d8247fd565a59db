// The feature spec of a run: `--spec` wins over features.spec; either way compiled with the configured
// lateness (windows keep that much history behind the watermark), so every path computes the same features.
import type { ChurnflowConfig } from '../config/config-schema.js';
import type { CompiledSpec } from '../features/compile-spec.js';
import { loadFeatureSpec } from '../features/load-spec.js';

export function buildSpec(config: Readonly<ChurnflowConfig>, specOverride?: string): CompiledSpec {
  return loadFeatureSpec(specOverride ?? config.features.spec, { allowedLatenessMs: config.engine.allowedLatenessMs });
}
