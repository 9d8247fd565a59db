// User-declared event kinds (`input.kinds`): activity outside the subscription domain (page views,
// feature uses, daily counts …) carried by the activity schema's generic `Custom` branch. The
// declaration says which numeric fields and text attributes a kind has, which are required and
// their ranges, so a custom event is checked as strictly as a built-in one (docs/input-mapping.md).
import { z } from 'zod';
import type { RangeRule } from '../events/validate-event.js';

const snake = z.string().regex(/^[a-z][a-z0-9_]*$/, 'lower snake case, starting with a letter');

/** Names a custom event's payload already uses for its generic quantity. */
export const RESERVED_FIELDS: readonly string[] = ['value', 'name'];

const numericFieldSchema = z.preprocess(
  // `count: number` is the shorthand of a field with no range that may be absent.
  (v) => (v === 'number' ? {} : v),
  z
    .object({
      /** Lowest accepted value (OUT_OF_RANGE below it). */
      min: z.number().optional(),
      /** Highest accepted value; no cap unless given. */
      max: z.number().optional(),
      /** A record without it is dead-lettered (MISSING_FIELD). */
      required: z.boolean().default(false),
    })
    .strict()
    .refine((f) => f.min === undefined || f.max === undefined || f.min <= f.max, 'min must not be above max'),
);

export const declaredKindSchema = z
  .object({
    /** The kind's name: the event kind the feature spec names (`event: page_view`). */
    name: snake,
    /** Numeric fields besides `value`, e.g. `{count: number}` or `{minutes: {min: 0, max: 1440}}`. */
    fields: z.record(snake, numericFieldSchema).default({}),
    /** Text fields, e.g. `[device, page]`. */
    attributes: z.array(snake).default([]),
    /** Range of the generic `value` (default: any finite number). */
    value: z.object({ min: z.number().optional(), max: z.number().optional() }).strict().default({}),
  })
  .strict()
  .superRefine((k, ctx) => {
    for (const f of Object.keys(k.fields)) {
      if (RESERVED_FIELDS.includes(f)) ctx.addIssue({ code: 'custom', path: ['fields', f], message: `'${f}' is reserved (every custom event has 'value'; 'name' is its kind)` });
      if (k.attributes.includes(f)) ctx.addIssue({ code: 'custom', path: ['fields', f], message: `'${f}' is declared both as a field and as an attribute` });
    }
    k.attributes.forEach((a, i) => {
      if (RESERVED_FIELDS.includes(a)) ctx.addIssue({ code: 'custom', path: ['attributes', i], message: `'${a}' is reserved (every custom event has 'value'; 'name' is its kind)` });
      if (k.attributes.indexOf(a) !== i) ctx.addIssue({ code: 'custom', path: ['attributes', i], message: `'${a}' is listed twice` });
    });
  });
export type DeclaredKind = z.infer<typeof declaredKindSchema>;
export type DeclaredKindInput = z.input<typeof declaredKindSchema>;

/** The range checks of the declared kinds, for the validation stage (ValidationRules.ranges). */
export function declaredKindRanges(kinds: readonly DeclaredKind[]): RangeRule[] {
  const out: RangeRule[] = [];
  for (const k of kinds) {
    if (k.value.min !== undefined || k.value.max !== undefined) out.push({ kind: k.name, field: 'value', ...k.value });
    for (const [field, f] of Object.entries(k.fields)) {
      if (f.min !== undefined || f.max !== undefined) out.push({ kind: k.name, field, ...(f.min !== undefined ? { min: f.min } : {}), ...(f.max !== undefined ? { max: f.max } : {}) });
    }
  }
  return out;
}
