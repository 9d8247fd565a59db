// The model manifest (docs/formats.md), validated once when a bundle loads.
import { z } from 'zod';

const binsSchema = z.object({
  edges: z.array(z.number()),
  shares: z.array(z.number().min(0)),
  missing_share: z.number().min(0).max(1).optional(),
});

const metricsSchema = z
  .object({
    roc_auc: z.number().optional(),
    pr_auc: z.number().optional(),
    recall: z.number().optional(),
    precision: z.number().optional(),
    f1: z.number().optional(),
    brier: z.number().optional(),
    rows: z.number().optional(),
    positives: z.number().optional(),
    net_value: z.number().optional(),
  })
  .passthrough();

export const manifestSchema = z
  .object({
    format: z.literal('churnflow.model/v1'),
    name: z.string().min(1),
    version: z.string().regex(/^\d+\.\d+\.\d+([-+].*)?$/, 'semantic version'),
    created_at: z.string(),
    feature_spec_hash: z.string().startsWith('sha256:'),
    features: z
      .array(z.object({ name: z.string(), impute: z.number(), missing_indicator: z.boolean() }).passthrough())
      .min(1),
    input_columns: z.array(z.string()).min(1),
    onnx: z
      .object({
        file: z.string(),
        input_name: z.string(),
        probability_output: z.string(),
        positive_index: z.number().int().min(0),
      })
      .passthrough(),
    decision: z.object({
      threshold: z.number().gt(0).lt(1),
      bands: z.array(z.object({ name: z.string(), min_score: z.number().min(0).max(1) })).min(1),
      costs: z.object({ contact_cost: z.number(), churner_loss: z.number(), save_rate: z.number() }).passthrough(),
    }),
    metrics: z.object({ validation: metricsSchema }).passthrough(),
    training_data: z.object({}).passthrough(),
    reference: z.object({
      features: z.record(z.string(), binsSchema),
      score: binsSchema,
      positive_rate: z.number().optional(),
    }),
    reference_outputs: z.object({ rows: z.array(z.array(z.number())), scores: z.array(z.number()) }).optional(),
  })
  .passthrough();

export type ModelManifest = z.infer<typeof manifestSchema>;
export type ReferenceBins = z.infer<typeof binsSchema>;

/** `input_columns` as the formats doc derives it from `features`. */
export function expectedInputColumns(features: ModelManifest['features']): string[] {
  return features.flatMap((f) => (f.missing_indicator ? [f.name, `${f.name}__missing`] : [f.name]));
}
