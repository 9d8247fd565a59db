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

const eventRef = {
  event: name,
  where: eventFilterSchema.optional(),
};

const common = {
  name,
  description: z.string().optional(),
  missingIndicator: z.boolean().default(false),
};

export const windowFeatureSchema = z
  .object({
    ...common,
    ...eventRef,
    type: z.literal('window'),
    agg: z.enum(['count', 'sum', 'mean', 'max', 'min', 'distinct']),
    field: name.optional(),
    windowDays: z.number().int().min(1).max(400),
  })
  .strict()
  .refine((f) => f.agg === 'count' || f.field !== undefined, { message: 'agg other than count needs a field' });

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
  return spec;
}
