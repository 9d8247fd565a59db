// Rule-based scoring for when the model cannot load or score: each customer gets the highest score
// of the rules its features match (or the base score), with the matched rules as its reasons. Rules
// name spec features, checked when the engine starts so a typo fails the config, not the stream.
import { ChurnflowError } from '../errors.js';
import type { FeatureColumn } from '../features/compile-spec.js';
import type { FeatureReason } from './explain/explainer.js';
import type { ScoringRef } from './scoring-ref.js';

export interface FallbackRule {
  readonly feature: string;
  readonly op: '>' | '>=' | '<' | '<=' | '==';
  readonly value: number;
  readonly score: number;
}

export interface FallbackConfig {
  readonly name: string;
  readonly version: string;
  readonly baseScore: number;
  readonly threshold: number;
  readonly bands: readonly { readonly name: string; readonly min_score: number }[];
  readonly rules: readonly FallbackRule[];
}

export interface FallbackScorer {
  readonly ref: ScoringRef;
  score(features: Float64Array): number;
}

const compare: Record<FallbackRule['op'], (a: number, b: number) => boolean> = {
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '==': (a, b) => a === b,
};

export function createFallbackScorer(config: FallbackConfig, columns: readonly FeatureColumn[]): FallbackScorer {
  const index = new Map(columns.map((c, i) => [c.name, i]));
  const rules = config.rules.map((r, i) => {
    const col = index.get(r.feature);
    if (col === undefined) {
      throw new ChurnflowError('CF_CONFIG_INVALID', `fallback.rules[${i}].feature: '${r.feature}' is not a feature of the feature spec (features: ${[...index.keys()].slice(0, 12).join(', ')}, …)`, {
        details: { key: `fallback.rules[${i}].feature` },
      });
    }
    return { ...r, col, test: compare[r.op] };
  });
  // A missing value (NaN) matches no rule: the rules speak about what is known.
  const matched = (features: Float64Array) => rules.filter((r) => !Number.isNaN(features[r.col]!) && r.test(features[r.col]!, r.value));
  const score = (features: Float64Array) => matched(features).reduce((s, r) => Math.max(s, r.score), config.baseScore);
  return {
    score,
    ref: {
      name: config.name,
      version: config.version,
      decision: { threshold: config.threshold, bands: [...config.bands] },
      scorer: 'fallback',
      reasons: (features, k): FeatureReason[] =>
        matched(features)
          .sort((a, b) => b.score - a.score || a.feature.localeCompare(b.feature))
          .slice(0, k)
          .map((r) => ({ feature: r.feature, value: features[r.col]!, contribution: r.score })),
    },
  };
}
