// Finds the feature spec a run uses: the built-in churn spec, or a user's JSON/YAML file.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { ChurnflowError, errorMessage } from '../errors.js';
import { compileSpec, type CompileOptions, type CompiledSpec } from './compile-spec.js';
import { DEFAULT_CHURN_SPEC } from './default-churn-spec.js';

export const BUILTIN_SPECS = Object.freeze({ churn_default: DEFAULT_CHURN_SPEC });

export function loadFeatureSpec(ref: string, options: CompileOptions = {}): CompiledSpec {
  if (ref.startsWith('builtin:')) {
    const name = ref.slice('builtin:'.length);
    const spec = (BUILTIN_SPECS as Record<string, unknown>)[name];
    if (!spec) throw new ChurnflowError('CF_CONFIG_INVALID', `features.spec: unknown built-in spec '${name}'; built-ins: ${Object.keys(BUILTIN_SPECS).map((n) => `builtin:${n}`).join(', ')}`);
    return compileSpec(spec as never, options);
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(readFileSync(ref, 'utf8'));
  } catch (err) {
    throw new ChurnflowError('CF_CONFIG_INVALID', `features.spec: cannot read spec file ${ref}: ${errorMessage(err)}`);
  }
  return compileSpec(parsed as never, options);
}
