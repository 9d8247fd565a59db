// The validation stage's rules from config: the built-in domain checks, the `validation` limits and
// the ranges of the user-declared kinds. Every command and the engine take them from here.
import { DEFAULT_VALIDATION_RULES, type ValidationRules } from '../events/validate-event.js';
import { declaredKindRanges } from '../serde/declared-kinds.js';
import type { ChurnflowConfig } from './config-schema.js';

export function validationRules(config: Readonly<ChurnflowConfig>): ValidationRules {
  return { ...DEFAULT_VALIDATION_RULES, ...config.validation, ranges: [...DEFAULT_VALIDATION_RULES.ranges, ...declaredKindRanges(config.input.kinds)] };
}
