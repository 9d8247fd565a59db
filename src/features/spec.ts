// The feature spec: every model feature declared once, as data. Stream scoring, replay, snapshots
// and lookups all compile this same spec, which is what keeps training and serving from drifting apart.
import { z } from 'zod';
import { ChurnflowError } from '../errors.js';

const name = z.string().regex(/^[a-z][a-z0-9_]*$/, 'lower snake case, starting with a letter');
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** Keep an event only if one payload field equals one of the given values. */
export const eventFilterSchema = z
  .object({ field: name, in: z.array(scalar).min(1) })
  .strict();

/** `*` reads every event, whatever its kind (active days, first activity, recency over any activity). */
export const ANY_EVENT = '*';

const eventRef = {
  event: z.union([name, z.literal(ANY_EVENT)]),
  where: eventFilterSchema.optional(),
};

const windowDays = z.number().int().min(1).max(400);

const common = {
  name,
  description: z.string().optional(),
  missingIndicator: z.boolean().default(false),
  /**
   * Computed (ratios and differences may read it) but not a model input: no column in rows, snapshots
   * or manifests. Optional without a default, so specs that do not use it keep their hash.
   */
  intermediate: z.boolean().optional(),
};

export const windowFeatureSchema = z
  .object({
    ...common,
    ...eventRef,
    type: z.literal('window'),
    /**
     * active_days: exact number of distinct days (UTC day buckets) with a matching event.
     * distinct: an estimate (256-bit linear counting; see docs/feature-spec.md for its error).
     */
    agg: z.enum(['count', 'sum', 'mean', 'max', 'min', 'distinct', 'active_days']),
    field: name.optional(),
    windowDays,
    /** The window ends this many days before the observation time: [t − (offset + W) days, t − offset days). */
    offsetDays: windowDays.optional(),
  })
  .strict()
  .refine((f) => f.agg === 'count' || f.agg === 'active_days' || f.field !== undefined, { message: 'agg other than count and active_days needs a field' })
  .refine((f) => f.agg !== 'active_days' || f.field === undefined, { message: 'active_days counts days with an event; it takes no field' });

/** Days since the earliest matching event, over all time or within the last windowDays. */
export const firstEventFeatureSchema = z
  .object({ ...common, ...eventRef, type: z.literal('first_event'), windowDays: windowDays.optional() })
  .strict();

/**
 * Least-squares slope of per-period totals over the last `periods` periods of `periodDays` each,
 * oldest to newest: per period, how much the total rises (positive) or falls (negative).
 */
export const trendFeatureSchema = z
  .object({
    ...common,
    ...eventRef,
    type: z.literal('trend'),
    agg: z.enum(['count', 'sum', 'active_days']),
    field: name.optional(),
    periodDays: z.number().int().min(1).max(200),
    periods: z.number().int().min(2).max(26),
  })
  .strict()
  .refine((f) => (f.agg === 'sum') === (f.field !== undefined), { message: 'sum needs a field; count and active_days take none' })
  .refine((f) => f.periodDays * f.periods <= 400, { message: 'periodDays × periods must be at most 400 days' });

export const recencyFeatureSchema = z
  .object({ ...common, ...eventRef, type: z.literal('recency') })
  .strict();

const valueSource = z.object({ event: name, field: name }).strict();

export const profileFeatureSchema = z
  .object({
    ...common,
    type: z.literal('profile'),
    /** Latest non-null value among these (event, field) sources, e.g. profile.plan and plan_change.to_plan. */
    from: z.array(valueSource).min(1),
    transform: z.enum(['value', 'days_since', 'days_until']).default('value'),
  })
  .strict();

export const categoryFeatureSchema = z
  .object({
    ...common,
    type: z.literal('category'),
    from: z.array(valueSource).min(1),
    /** Known categories; each becomes a 0/1 column `<name>__<category>`, plus `<name>__other` for unseen ones. */
    categories: z.array(z.string().regex(/^[a-z0-9_]+$/)).min(1),
  })
  .strict();

export const ratioFeatureSchema = z
  .object({
    ...common,
    type: z.literal('ratio'),
    numerator: name,
    denominator: name,
    /** Multiplies the ratio, e.g. 30/7 turns logins_7d/logins_30d into a rate ratio. */
    scale: z.number().positive().default(1),
  })
  .strict();

export const differenceFeatureSchema = z
  .object({ ...common, type: z.literal('difference'), left: name, right: name, scaleRight: z.number().default(1) })
  .strict();

export const featureDefSchema = z.union([
  windowFeatureSchema,
  recencyFeatureSchema,
  firstEventFeatureSchema,
  trendFeatureSchema,
  profileFeatureSchema,
  categoryFeatureSchema,
  ratioFeatureSchema,
  differenceFeatureSchema,
]);

export const labelSchema = z
  .object({ ...eventRef, horizonDays: z.number().int().min(1).max(365) })
  .strict();

export const featureSpecSchema = z
  .object({
    name,
    version: z.string().min(1),
    /** The churn label (for snapshots, backtests and live performance): an event, e.g. a CANCEL plan change. */
    label: labelSchema,
    /** An (event, field) giving the customer's signup time; customers are observed only after it. */
    signup: valueSource.optional(),
    features: z.array(featureDefSchema).min(1),
  })
  .strict();

export type EventFilter = z.infer<typeof eventFilterSchema>;
export type WindowFeature = z.infer<typeof windowFeatureSchema>;
export type RecencyFeature = z.infer<typeof recencyFeatureSchema>;
export type FirstEventFeature = z.infer<typeof firstEventFeatureSchema>;
export type TrendFeature = z.infer<typeof trendFeatureSchema>;
export type ProfileFeature = z.infer<typeof profileFeatureSchema>;
export type CategoryFeature = z.infer<typeof categoryFeatureSchema>;
export type RatioFeature = z.infer<typeof ratioFeatureSchema>;
export type DifferenceFeature = z.infer<typeof differenceFeatureSchema>;
export type FeatureDef = z.infer<typeof featureDefSchema>;
export type FeatureSpec = z.infer<typeof featureSpecSchema>;
export type FeatureSpecInput = z.input<typeof featureSpecSchema>;

/** Validates a spec (from code, JSON or YAML); errors name the path and what is allowed. */
export function parseFeatureSpec(input: unknown): FeatureSpec {
  const res = featureSpecSchema.safeParse(input);
  if (!res.success) {
    const issues = res.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ChurnflowError('CF_SPEC_INVALID', `invalid feature spec: ${issues.join('; ')}`, { details: { issues } });
  }
  const spec = res.data;
  const seen = new Set<string>();
  for (const f of spec.features) {
    if (seen.has(f.name)) throw new ChurnflowError('CF_SPEC_INVALID', `invalid feature spec: feature '${f.name}' is declared twice`);
    if (f.intermediate && (f.type === 'category' || f.missingIndicator)) {
      throw new ChurnflowError(
        'CF_SPEC_INVALID',
        `invalid feature spec: intermediate feature '${f.name}' must be numeric without missingIndicator (it feeds ratios and differences, not the model)`,
      );
    }
    if (f.type === 'ratio' || f.type === 'difference') {
      for (const ref of f.type === 'ratio' ? [f.numerator, f.denominator] : [f.left, f.right]) {
        if (!seen.has(ref)) {
          throw new ChurnflowError(
            'CF_SPEC_INVALID',
            `invalid feature spec: feature '${f.name}' refers to '${ref}', which must be declared before it`,
          );
        }
      }
    }
    seen.add(f.name);
  }
  if (spec.features.every((f) => f.intermediate)) {
    throw new ChurnflowError('CF_SPEC_INVALID', 'invalid feature spec: every feature is intermediate; at least one must be a model input');
  }
  return spec;
}
