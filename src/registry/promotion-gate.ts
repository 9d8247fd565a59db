// What a model must pass before it is promoted (docs/model-registry.md, "The promotion gate"):
//   feature-spec       the manifest's feature_spec_hash is the engine's spec hash (and the input
//                      vectorizer can be built from the spec's columns);
//   reference-outputs  model.onnx loads in onnxruntime-node and re-scores manifest.reference_outputs.rows
//                      (model input rows: imputed, input_columns order) within referenceTolerance of
//                      the scores the trainer recorded; no reference outputs is a failure;
//   explainable        model.onnx holds a tree ensemble with node covers, so engines can compute exact
//                      TreeSHAP reasons (risk events carry them by default);
//   roc_auc, pr_auc, recall   each validation metric is at least production's minus maxMetricDrop
//                      (no production model: passes, saying so).
// Every check runs, so a refusal lists everything that is wrong at once.
import { join } from 'node:path';
import { errorMessage } from '../errors.js';
import type { CompiledSpec } from '../features/compile-spec.js';
import { createTreeExplainer } from '../scoring/explain/explainer.js';
import { createInputVectorizer } from '../scoring/input-vectorizer.js';
import type { ModelManifest } from '../scoring/manifest.js';
import { createOnnxScorer, type BatchScorer } from '../scoring/onnx-scorer.js';

export interface PromotionPolicy {
  readonly maxMetricDrop: { readonly roc_auc: number; readonly pr_auc: number; readonly recall: number };
  readonly referenceTolerance: number;
}

export interface GateCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface GateResult {
  readonly ok: boolean;
  readonly checks: readonly GateCheck[];
}

export interface GateInput {
  /** The bundle to promote: its directory (for model.onnx) and its validated manifest. */
  readonly candidate: { readonly dir: string; readonly manifest: ModelManifest };
  /** The manifest of the model the production alias points at now, if any. */
  readonly production?: ModelManifest | null;
  readonly spec: CompiledSpec;
  readonly policy: PromotionPolicy;
  readonly intraOpThreads?: number;
}

export const GATED_METRICS = ['roc_auc', 'pr_auc', 'recall'] as const;
export type GatedMetric = (typeof GATED_METRICS)[number];

export async function evaluatePromotion(input: GateInput): Promise<GateResult> {
  const checks: GateCheck[] = [checkFeatureSpec(input), await checkReferenceOutputs(input), await checkExplainable(input), ...GATED_METRICS.map((m) => checkMetric(input, m))];
  return { ok: checks.every((c) => c.ok), checks };
}

/** One line per failed check, for refusal messages. */
export function failedChecks(result: GateResult): string[] {
  return result.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
}

function checkFeatureSpec({ candidate, spec }: GateInput): GateCheck {
  const m = candidate.manifest;
  if (m.feature_spec_hash !== spec.hash) {
    return { name: 'feature-spec', ok: false, detail: `trained on ${m.feature_spec_hash}, the engine runs spec '${spec.spec.name}' ${spec.hash}` };
  }
  try {
    createInputVectorizer(spec.columns, m);
  } catch (err) {
    return { name: 'feature-spec', ok: false, detail: errorMessage(err) };
  }
  return { name: 'feature-spec', ok: true, detail: `${spec.hash} (spec '${spec.spec.name}')` };
}

async function checkReferenceOutputs({ candidate, policy, intraOpThreads }: GateInput): Promise<GateCheck> {
  const name = 'reference-outputs';
  const m = candidate.manifest;
  const ro = m.reference_outputs;
  if (!ro) return { name, ok: false, detail: 'the manifest has no reference_outputs to re-score (retrain with a trainer that records them)' };
  const width = m.input_columns.length;
  if (ro.rows.length === 0) return { name, ok: false, detail: 'reference_outputs.rows is empty' };
  if (ro.rows.length !== ro.scores.length) return { name, ok: false, detail: `reference_outputs has ${ro.rows.length} rows but ${ro.scores.length} scores` };
  const badRow = ro.rows.findIndex((r) => r.length !== width || r.some((v) => !Number.isFinite(v)));
  if (badRow >= 0) return { name, ok: false, detail: `reference_outputs.rows[${badRow}] is not ${width} finite numbers (input_columns)` };
  let scorer: BatchScorer;
  try {
    scorer = await createOnnxScorer({ dir: candidate.dir, manifest: m, onnxPath: join(candidate.dir, m.onnx.file) }, intraOpThreads === undefined ? {} : { intraOpThreads });
  } catch (err) {
    return { name, ok: false, detail: `the ONNX model does not load: ${errorMessage(err)}` };
  }
  try {
    const rows = new Float32Array(ro.rows.length * width);
    ro.rows.forEach((r, i) => rows.set(r, i * width));
    const scores = await scorer.score(rows, ro.rows.length);
    let worst = 0;
    let worstAt = 0;
    for (let i = 0; i < scores.length; i++) {
      const d = Math.abs(scores[i]! - ro.scores[i]!);
      if (!(d <= worst)) {
        worst = d;
        worstAt = i;
      }
    }
    const tol = policy.referenceTolerance;
    if (!(worst <= tol)) {
      const off = [...scores].filter((s, i) => !(Math.abs(s - ro.scores[i]!) <= tol)).length;
      return {
        name,
        ok: false,
        detail: `${off} of ${scores.length} reference rows score differently: row ${worstAt} gives ${fmt(scores[worstAt]!)}, recorded ${fmt(ro.scores[worstAt]!)} (|Δ| ${fmt(worst)} > tolerance ${fmt(tol)})`,
      };
    }
    return { name, ok: true, detail: `${scores.length} reference rows re-scored on onnxruntime-node, max |Δ| ${fmt(worst)} ≤ ${fmt(tol)}` };
  } catch (err) {
    return { name, ok: false, detail: `scoring the reference rows failed: ${errorMessage(err)}` };
  } finally {
    await scorer.close();
  }
}

async function checkExplainable({ candidate }: GateInput): Promise<GateCheck> {
  const m = candidate.manifest;
  try {
    const explainer = await createTreeExplainer({ dir: candidate.dir, manifest: m, onnxPath: join(candidate.dir, m.onnx.file) });
    return { name: 'explainable', ok: true, detail: `tree ensemble with node covers: exact TreeSHAP over ${explainer.width} inputs` };
  } catch (err) {
    return { name: 'explainable', ok: false, detail: `${errorMessage(err)} (engines with model.reasons.topK > 0 could not load it; re-export: python -m churnflow_trainer reexport-onnx --bundle <dir>)` };
  }
}

function checkMetric({ candidate, production, policy }: GateInput, metric: GatedMetric): GateCheck {
  const value = candidate.manifest.metrics.validation[metric];
  if (typeof value !== 'number' || !Number.isFinite(value)) return { name: metric, ok: false, detail: `the manifest has no metrics.validation.${metric}` };
  if (!production) return { name: metric, ok: true, detail: `${fmt(value)}; no production model to compare with` };
  const prod = production.metrics.validation[metric];
  const label = `${production.name}@${production.version}`;
  if (typeof prod !== 'number' || !Number.isFinite(prod)) return { name: metric, ok: true, detail: `${fmt(value)}; production ${label} records no ${metric}` };
  const maxDrop = policy.maxMetricDrop[metric];
  const drop = prod - value;
  // A hair of float slack so a drop of exactly maxDrop passes however the subtraction rounds.
  const ok = drop <= maxDrop + 1e-12;
  const delta = `${value >= prod ? '+' : '−'}${fmt(Math.abs(value - prod))}`;
  return {
    name: metric,
    ok,
    detail: ok
      ? `${fmt(value)} vs production ${label} ${fmt(prod)} (${delta}, allowed drop ${fmt(maxDrop)})`
      : `${fmt(value)} is ${fmt(drop)} below production ${label} ${fmt(prod)} (allowed drop ${fmt(maxDrop)})`,
  };
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a < 1e-3 ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}
