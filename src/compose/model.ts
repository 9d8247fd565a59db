// Which model a path scores with, decided in one place: `--model <dir>` (or model.dir) pins a bundle;
// otherwise the registry's alias (model.alias, `production` by default) of model.name names the
// version. The engine watches that alias; commands load the version it points at when they start.
import type { ChurnflowConfig } from '../config/config-schema.js';
import { modelLoadOptions } from '../config/decision-options.js';
import { ChurnflowError } from '../errors.js';
import type { CompiledSpec } from '../features/compile-spec.js';
import type { AliasName } from '../registry/alias-store.js';
import { openModelRegistry } from '../registry/model-registry.js';
import { loadScoringModel, type ScoringModel } from '../scoring/scoring-model.js';

export type ModelSelection =
  /** A bundle directory: no alias, no hot swap. */
  | { readonly kind: 'pinned'; readonly dir: string }
  /** The version an alias of the registry points at (read when loaded; the engine keeps watching it). */
  | { readonly kind: 'alias'; readonly registryDir: string; readonly name: string; readonly alias: AliasName };

export interface ModelChoice {
  /** `--model`: a bundle directory that wins over the config. */
  readonly modelOverride?: string;
}

export function selectModel(config: Readonly<ChurnflowConfig>, choice: ModelChoice = {}): ModelSelection {
  const dir = choice.modelOverride ?? config.model.dir;
  if (dir !== undefined) return { kind: 'pinned', dir };
  return { kind: 'alias', registryDir: config.model.registry.dir, name: config.model.name, alias: config.model.alias };
}

/** The bundle directory the selection means now: the pinned one, or the alias's version in the registry. */
export async function resolveModelDir(config: Readonly<ChurnflowConfig>, choice: ModelChoice = {}): Promise<string> {
  const sel = selectModel(config, choice);
  if (sel.kind === 'pinned') return sel.dir;
  const registry = openModelRegistry(config);
  try {
    const version = await registry.resolve(sel.name, sel.alias);
    if (version === undefined) {
      throw new ChurnflowError('CF_MODEL_UNAVAILABLE', `model.alias: the registry at ${sel.registryDir} has no '${sel.alias}' version of ${sel.name} (promote one with 'churnflow model promote', or give --model <dir>)`);
    }
    return registry.bundleDir(sel.name, version);
  } finally {
    await registry.close();
  }
}

/** Loads the selected model, checked against the spec; explains its scores when the config asks for reasons (and the path writes them). */
export async function buildModel(config: Readonly<ChurnflowConfig>, spec: CompiledSpec, choice: ModelChoice & { readonly explain?: boolean } = {}): Promise<ScoringModel> {
  const options = modelLoadOptions(config);
  return loadScoringModel(await resolveModelDir(config, choice), spec, { ...options, explain: options.explain && choice.explain !== false });
}
