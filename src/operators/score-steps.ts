// Scores every step of a batch in one scorer call per model (the micro-batch is the scoring batch).
// With a model lifecycle: production scores every step; the candidate scores every step too when it
// shadows, or the canary customers' steps when it is a canary; the fallback rules take over when
// production cannot score, and production is tried again after retryAfterMs.
import { concatMap, type OperatorFunction } from 'rxjs';
import { ChurnflowError, isRetriable } from '../errors.js';
import { inShare } from '../scoring/assignment.js';
import type { FallbackScorer } from '../scoring/fallback-scorer.js';
import type { ModelHandle } from '../scoring/model-handle.js';
import { modelRef, type ScoringRef } from '../scoring/scoring-ref.js';
import type { ScoringModel } from '../scoring/scoring-model.js';
import type { Clock } from '../time/clock.js';
import type { AggregatedBatch, ScoredBatch } from './batch.js';

/** Scores each step's row (the state just after its event) with one model call. */
export async function scoreStepsWith(batch: AggregatedBatch, model: ScoringModel): Promise<{ scores: Float32Array }> {
  return { scores: Float32Array.from(await model.scoreFeatures(batch.steps.map((s) => s.features))) };
}

/** Scores only the marked steps (a canary without shadow); the others get NaN. */
async function scoreSomeWith(batch: AggregatedBatch, model: ScoringModel, marked: Uint8Array): Promise<{ scores: Float32Array }> {
  const picked = batch.steps.flatMap((s, i) => (marked[i] === 1 ? [i] : []));
  const sub = await scoreStepsWith({ ...batch, steps: picked.map((i) => batch.steps[i]!) }, model);
  const scores = new Float32Array(batch.steps.length).fill(Number.NaN);
  picked.forEach((i, j) => {
    scores[i] = sub.scores[j]!;
  });
  return { scores };
}

export async function scoreBatch(batch: AggregatedBatch, model: ScoringModel): Promise<ScoredBatch> {
  return { ...batch, ...(await scoreStepsWith(batch, model)), model: modelRef(model) };
}

/** `model` is read per batch, so a handle whose current model changes is picked up between batches. */
export function scoreSteps(model: () => ScoringModel): OperatorFunction<AggregatedBatch, ScoredBatch> {
  return concatMap((batch) => scoreBatch(batch, model()));
}

export interface LifecycleHooks {
  /** A model call failed (production or candidate); `fallback` tells whether the rules took over. */
  onScoringError?(err: unknown, ref: ScoringRef): void;
  /** The fallback rules became active (true, with why) or the model is back (false). */
  onFallback?(active: boolean, why: string): void;
  /** Production scored a batch: steps, seconds, scores (for the rollback guard). */
  onScored?(ref: ScoringRef, seconds: number, scores: Float32Array): void;
  /** Production and shadow scores of the same steps (agreement metrics). */
  onShadow?(production: ScoringRef, shadow: ScoringRef, productionScores: Float32Array, shadowScores: Float32Array): void;
}

export interface LifecycleScoringOptions {
  readonly handle: ModelHandle;
  readonly clock: Clock;
  readonly fallback?: FallbackScorer;
  /** While on the fallback, try production again this often. */
  readonly retryAfterMs: number;
  readonly shadow: boolean;
  readonly canary?: { readonly share: number; readonly salt: string };
  readonly hooks?: LifecycleHooks;
}

/** Scores a batch (the lifecycle scorer, or anything that decorates it). */
export interface BatchScoring {
  score(batch: AggregatedBatch): Promise<ScoredBatch>;
}

export class LifecycleScorer implements BatchScoring {
  private fallbackSince: number | undefined;
  /** The model whose failure started the fallback: a different one (swapped in since) is tried at once. */
  private failed: ScoringModel | undefined;

  constructor(private readonly o: LifecycleScoringOptions) {}

  get fallbackActive(): boolean {
    return this.fallbackSince !== undefined;
  }

  async score(batch: AggregatedBatch): Promise<ScoredBatch> {
    const lease = this.o.handle.acquire();
    try {
      const { production, candidate } = lease;
      const now = this.o.clock.now();
      const tryModel = production !== undefined && (this.fallbackSince === undefined || production !== this.failed || now - this.fallbackSince >= this.o.retryAfterMs);
      let scored: ScoredBatch | undefined;
      if (tryModel) {
        const ref = modelRef(production);
        const t0 = performance.now();
        try {
          scored = { ...batch, ...(await scoreStepsWith(batch, production)), model: ref };
          this.o.hooks?.onScored?.(ref, (performance.now() - t0) / 1000, scored.scores);
          if (this.fallbackSince !== undefined) {
            this.fallbackSince = undefined;
            this.failed = undefined;
            this.o.hooks?.onFallback?.(false, `${ref.name}@${ref.version} scores again`);
          }
        } catch (err) {
          if (isRetriable(err)) throw err;
          this.o.hooks?.onScoringError?.(err, ref);
          if (!this.o.fallback) throw err;
          this.failed = production;
          this.activate(now, `${ref.name}@${ref.version} failed to score: ${(err as Error).message}`);
        }
      } else if (production === undefined && this.fallbackSince === undefined) {
        if (!this.o.fallback) throw new ChurnflowError('CF_MODEL_UNAVAILABLE', 'no production model is loaded and the fallback rules are disabled', { retriable: false });
        this.activate(now, 'no production model is loaded');
      }
      if (scored === undefined) {
        if (!this.o.fallback) throw new ChurnflowError('CF_MODEL_UNAVAILABLE', 'no production model can score and the fallback rules are disabled', { retriable: false });
        return this.fallbackScores(batch, this.o.fallback);
      }
      if (candidate === undefined || candidate === production) return scored;
      const canarySteps = this.o.canary && this.o.canary.share > 0 ? Uint8Array.from(batch.steps, (s) => (inShare(s.item.event.customerId, this.o.canary!.salt, this.o.canary!.share) ? 1 : 0)) : undefined;
      const needCandidate = this.o.shadow || (canarySteps !== undefined && canarySteps.includes(1));
      if (!needCandidate) return scored;
      const cref = modelRef(candidate);
      let cand: { scores: Float32Array };
      try {
        cand = this.o.shadow ? await scoreStepsWith(batch, candidate) : await scoreSomeWith(batch, candidate, canarySteps!);
      } catch (err) {
        if (isRetriable(err)) throw err;
        // A failing candidate never costs production customers their scores.
        this.o.hooks?.onScoringError?.(err, cref);
        return scored;
      }
      let out: ScoredBatch = scored;
      if (canarySteps && canarySteps.includes(1)) {
        const scores = Float32Array.from(scored.scores);
        canarySteps.forEach((c, i) => {
          if (c === 1) scores[i] = cand.scores[i]!;
        });
        out = { ...out, scores, canary: { ref: cref, steps: canarySteps } };
      }
      if (this.o.shadow) {
        out = { ...out, shadow: { ref: cref, scores: cand.scores } };
        this.o.hooks?.onShadow?.(scored.model, cref, scored.scores, cand.scores);
      }
      return out;
    } finally {
      lease.release();
    }
  }

  private activate(now: number, why: string): void {
    const first = this.fallbackSince === undefined;
    this.fallbackSince = now;
    if (first) this.o.hooks?.onFallback?.(true, why);
  }

  private fallbackScores(batch: AggregatedBatch, fallback: FallbackScorer): ScoredBatch {
    const scores = Float32Array.from(batch.steps, (s) => fallback.score(s.features));
    return { ...batch, scores, model: fallback.ref };
  }
}

export function scoreWithLifecycle(scorer: BatchScoring): OperatorFunction<AggregatedBatch, ScoredBatch> {
  return concatMap((batch) => scorer.score(batch));
}
