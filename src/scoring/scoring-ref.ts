// What a risk decision needs to know about whoever scored a customer: name, version, decision
// threshold and bands, and how to explain a score. A model and the fallback rules both provide one,
// so deciding, emitting and explaining are the same code for both.
import type { FeatureReason } from './explain/explainer.js';
import type { ModelManifest } from './manifest.js';
import type { OffThreadReasons, ScoringModel } from './scoring-model.js';

export type ScorerKind = 'model' | 'fallback';

export interface ScoringRef {
  readonly name: string;
  readonly version: string;
  readonly decision: { readonly threshold: number; readonly bands: ModelManifest['decision']['bands'] };
  readonly scorer: ScorerKind;
  /** The model's manifest (scorer 'model'); drift monitoring compares against its reference. */
  readonly manifest?: ModelManifest;
  /** Top-k features that pushed this row's score up (spec feature row, NaN = missing). */
  readonly reasons?: (features: Float64Array, k: number) => FeatureReason[];
  /** The same for several rows at once (what reasons() gives per row), cheaper per row where the explainer batches (TreeSHAP: tree by tree). */
  readonly reasonsMany?: (rows: readonly Float64Array[], k: number) => FeatureReason[][];
  /** The same on a worker thread, for a share of a batch's rows (model.workerShare). */
  readonly reasonsOffThread?: OffThreadReasons;
}

export function manifestRef(m: ModelManifest): ScoringRef {
  return { name: m.name, version: m.version, decision: m.decision, scorer: 'model', manifest: m };
}

export function modelRef(model: ScoringModel): ScoringRef {
  const explain = model.explainer;
  return {
    ...manifestRef(model.manifest),
    ...(explain ? { reasons: (features: Float64Array, k: number) => explain.reasons(features, k), reasonsMany: (rows: readonly Float64Array[], k: number) => explain.reasonsMany(rows, k) } : {}),
    ...(explain && model.offThreadReasons ? { reasonsOffThread: model.offThreadReasons } : {}),
  };
}
