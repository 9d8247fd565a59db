// Compiles a feature spec into (1) the slot ops an event contributes to state and (2) the evaluator
// that turns a customer's state into the feature row as of a time. Both paths, stream and replay,
// go through these two functions; nothing else knows what a feature means.
import { DAY_MS, type ActivityEvent, type Scalar, type SourcePosition } from '../events/activity-event.js';
import { ChurnflowError } from '../errors.js';
import type { CustomerState, StateDelta, StateLayout } from '../state/customer-state.js';
import { bitIndexFor, estimateDistinct, type SlotMerge, type SlotOp, type SlotValue } from '../state/slots.js';
import { WindowTotals } from './window-totals.js';
import { canonicalJson, sha256Hex } from './canonical-json.js';
import { parseFeatureSpec, type EventFilter, type FeatureSpec, type FeatureSpecInput } from './spec.js';

type SlotSource = 'one' | 'field' | 'one_if_field' | 'time' | 'bit_of_field';

interface SlotDef {
  readonly id: string;
  readonly event: string;
  readonly where: EventFilter | undefined;
  readonly merge: SlotMerge;
  readonly source: SlotSource;
  readonly field: string | undefined;
}

/** How one output column is computed from slot totals. */
type ColumnEval = (ctx: EvalContext, out: Float64Array) => void;

interface EvalContext {
  readonly asOf: number;
  /** Slot totals over each window length (days) and over all time ('all'). */
  window(slot: string, days: number): SlotValue | undefined;
  allTime(slot: string): SlotValue | undefined;
  column(name: string): number;
}

export interface FeatureColumn {
  readonly name: string;
  /** The spec feature it comes from (a category expands into several columns). */
  readonly feature: string;
  readonly missingIndicator: boolean;
  readonly kind: 'numeric' | 'indicator';
}

export interface CompiledSpec {
  readonly spec: FeatureSpec;
  /** `sha256:<hex>` of the canonical spec; model manifests must carry the same. */
  readonly hash: string;
  readonly columns: readonly FeatureColumn[];
  readonly layout: StateLayout;
  readonly maxWindowDays: number;
  /** The slot ops an event adds to its customer's state (empty if no feature reads this event). */
  opsFor(event: ActivityEvent): SlotOp[];
  /** The state change an event makes, tagged with its source position for effectively-once application. */
  deltaFor(event: ActivityEvent, position: SourcePosition): StateDelta;
  /** The 'last' slot holding the signup time, if the spec names one. */
  readonly signupSlot: string | undefined;
  /** Feature values as of `asOf` (only buckets that start before it are read); NaN = missing. */
  evaluate(state: Readonly<CustomerState>, asOf: number, out?: Float64Array): Float64Array;
  /** Raw category value of a category feature as of `asOf` (for drift on categories). */
  categoryValue(state: Readonly<CustomerState>, feature: string, asOf: number): string | null;
  /** Whether the event is the label event (e.g. a cancellation). */
  isLabelEvent(event: ActivityEvent): boolean;
  /** Signup time as of `asOf`, if the spec names a signup source. */
  signupTime(state: Readonly<CustomerState>, asOf: number): number | null;
}

export interface CompileOptions {
  /** Allowed lateness of the event-time clock; buckets are kept that much longer so late events still land. */
  readonly allowedLatenessMs?: number;
}

export function compileSpec(input: FeatureSpecInput | FeatureSpec, options: CompileOptions = {}): CompiledSpec {
  const spec = parseFeatureSpec(input);
  const slots = new Map<string, SlotDef>();
  const slotsByEvent = new Map<string, SlotDef[]>();
  const addSlot = (def: Omit<SlotDef, 'id'>): string => {
    const id = sha256Hex(canonicalJson(def)).slice(0, 10);
    if (!slots.has(id)) {
      const full = { ...def, id };
      slots.set(id, full);
      const list = slotsByEvent.get(def.event) ?? [];
      list.push(full);
      slotsByEvent.set(def.event, list);
    }
    return id;
  };

  const columns: FeatureColumn[] = [];
  const evals: ColumnEval[] = [];
  const colIndex = new Map<string, number>();
  const numericFeatures = new Set<string>();
  const categoryLookups = new Map<string, (ctx: EvalContext) => string | null>();
  let maxWindowDays = 1;

  const pushColumn = (col: FeatureColumn, ev: ColumnEval) => {
    colIndex.set(col.name, columns.length);
    columns.push(col);
    evals.push(ev);
  };
  const numeric = (name: string, missingIndicator: boolean, fn: (ctx: EvalContext) => number) => {
    const i = columns.length;
    numericFeatures.add(name);
    pushColumn({ name, feature: name, missingIndicator, kind: 'numeric' }, (ctx, out) => {
      out[i] = fn(ctx);
    });
  };
  const lastOf = (from: readonly { event: string; field: string }[]) => {
    const ids = from.map((s) => addSlot({ event: s.event, where: undefined, merge: 'last', source: 'field', field: s.field }));
    return (ctx: EvalContext): Scalar => {
      let best: readonly [number, Scalar] | undefined;
      for (const id of ids) {
        const v = ctx.allTime(id) as readonly [number, Scalar] | undefined;
        if (v && (best === undefined || v[0] > best[0])) best = v;
      }
      return best ? best[1] : null;
    };
  };

  for (const f of spec.features) {
    switch (f.type) {
      case 'window': {
        maxWindowDays = Math.max(maxWindowDays, f.windowDays);
        const w = f.windowDays;
        if (f.agg === 'count') {
          const s = addSlot({ event: f.event, where: f.where, merge: 'add', source: 'one', field: undefined });
          numeric(f.name, f.missingIndicator, (ctx) => num(ctx.window(s, w)) ?? 0);
        } else if (f.agg === 'sum') {
          const s = addSlot({ event: f.event, where: f.where, merge: 'add', source: 'field', field: f.field });
          numeric(f.name, f.missingIndicator, (ctx) => num(ctx.window(s, w)) ?? 0);
        } else if (f.agg === 'mean') {
          const s = addSlot({ event: f.event, where: f.where, merge: 'add', source: 'field', field: f.field });
          const n = addSlot({ event: f.event, where: f.where, merge: 'add', source: 'one_if_field', field: f.field });
          numeric(f.name, f.missingIndicator, (ctx) => {
            const count = num(ctx.window(n, w)) ?? 0;
            return count > 0 ? (num(ctx.window(s, w)) ?? 0) / count : Number.NaN;
          });
        } else if (f.agg === 'max' || f.agg === 'min') {
          const s = addSlot({ event: f.event, where: f.where, merge: f.agg, source: 'field', field: f.field });
          numeric(f.name, f.missingIndicator, (ctx) => num(ctx.window(s, w)) ?? Number.NaN);
        } else {
          const s = addSlot({ event: f.event, where: f.where, merge: 'bits', source: 'bit_of_field', field: f.field });
          numeric(f.name, f.missingIndicator, (ctx) => {
            const v = ctx.window(s, w);
            return Array.isArray(v) ? estimateDistinct(v as number[]) : 0;
          });
        }
        break;
      }
      case 'recency': {
        const s = addSlot({ event: f.event, where: f.where, merge: 'max', source: 'time', field: undefined });
        numeric(f.name, f.missingIndicator, (ctx) => {
          const t = num(ctx.allTime(s));
          return t === undefined ? Number.NaN : Math.max(0, (ctx.asOf - t) / DAY_MS);
        });
        break;
      }
      case 'profile': {
        const last = lastOf(f.from);
        numeric(f.name, f.missingIndicator, (ctx) => {
          const v = last(ctx);
          if (typeof v !== 'number' || !Number.isFinite(v)) return Number.NaN;
          if (f.transform === 'days_since') return (ctx.asOf - v) / DAY_MS;
          if (f.transform === 'days_until') return (v - ctx.asOf) / DAY_MS;
          return v;
        });
        break;
      }
      case 'category': {
        if (f.missingIndicator) {
          throw new ChurnflowError('CF_SPEC_INVALID', `invalid feature spec: category '${f.name}' cannot have missingIndicator (all-zero columns already say missing)`);
        }
        const last = lastOf(f.from);
        const lookup = (ctx: EvalContext) => {
          const v = last(ctx);
          return v === null ? null : String(v);
        };
        categoryLookups.set(f.name, lookup);
        const cats = [...f.categories, 'other'];
        const base = columns.length;
        cats.forEach((cat, k) => {
          const isOther = k === cats.length - 1;
          pushColumn({ name: `${f.name}__${cat}`, feature: f.name, missingIndicator: false, kind: 'indicator' }, (ctx, out) => {
            const v = lookup(ctx);
            out[base + k] = v === null ? 0 : isOther ? (f.categories.includes(v) ? 0 : 1) : v === cat ? 1 : 0;
          });
        });
        break;
      }
      case 'ratio':
      case 'difference': {
        const [a, b] = f.type === 'ratio' ? [f.numerator, f.denominator] : [f.left, f.right];
        for (const ref of [a, b]) {
          if (!numericFeatures.has(ref)) {
            throw new ChurnflowError('CF_SPEC_INVALID', `invalid feature spec: '${f.name}' refers to '${ref}', which is not a numeric feature`);
          }
        }
        numeric(f.name, f.missingIndicator, (ctx) => {
          const x = ctx.column(a);
          const y = ctx.column(b);
          if (Number.isNaN(x) || Number.isNaN(y)) return Number.NaN;
          if (f.type === 'ratio') return y === 0 ? Number.NaN : (x / y) * f.scale;
          return x - y * f.scaleRight;
        });
        break;
      }
    }
  }

  const label = spec.label;
  const labelMatches = (e: ActivityEvent) => e.kind === label.event && matches(label.where, e);
  const signupLast = spec.signup ? lastOf([spec.signup]) : undefined;
  const signupSlot = spec.signup
    ? addSlot({ event: spec.signup.event, where: undefined, merge: 'last', source: 'field', field: spec.signup.field })
    : undefined;

  const latenessDays = Math.ceil((options.allowedLatenessMs ?? 0) / DAY_MS);
  const layout: StateLayout = {
    retentionDays: maxWindowDays + 1 + latenessDays,
    merges: new Map([...slots.values()].map((s) => [s.id, s.merge])),
  };
  const hashable = { ...spec, features: spec.features.map(({ description: _d, ...rest }) => rest) };
  const hash = `sha256:${sha256Hex(canonicalJson(hashable))}`;
  const windowLengths = [...new Set(spec.features.flatMap((f) => (f.type === 'window' ? [f.windowDays] : [])))].sort((x, y) => x - y);

  const opsFor = (event: ActivityEvent): SlotOp[] => {
    const defs = slotsByEvent.get(event.kind);
    if (!defs) return [];
    const ops: SlotOp[] = [];
    for (const d of defs) {
      if (!matches(d.where, event)) continue;
      const op = slotOp(d, event);
      if (op) ops.push(op);
    }
    return ops;
  };

  const totals = new WindowTotals(layout.merges, windowLengths);
  // A window of W days as of t covers the day buckets that start in [t − W days, t): buckets starting
  // at or after t are never read, which is what makes snapshot rows point-in-time correct.
  const context = (state: Readonly<CustomerState>, asOf: number, out: Float64Array): EvalContext => {
    totals.load(state, asOf);
    return {
      asOf,
      window: (slot, days) => totals.window(slot, days),
      allTime: (slot) => totals.allTime(slot),
      column: (name) => out[colIndex.get(name)!]!,
    };
  };

  return Object.freeze({
    spec,
    hash,
    columns: Object.freeze(columns),
    layout,
    maxWindowDays,
    opsFor,
    deltaFor(event: ActivityEvent, position: SourcePosition): StateDelta {
      const ops = opsFor(event);
      const base = { customerId: event.customerId, eventId: event.eventId, eventTime: event.eventTime, position, ops };
      return signupSlot === undefined ? base : { ...base, signupSlot };
    },
    signupSlot,
    evaluate(state: Readonly<CustomerState>, asOf: number, out = new Float64Array(columns.length)): Float64Array {
      const ctx = context(state, asOf, out);
      for (const ev of evals) ev(ctx, out);
      return out;
    },
    categoryValue(state: Readonly<CustomerState>, feature: string, asOf: number): string | null {
      const lookup = categoryLookups.get(feature);
      if (!lookup) throw new ChurnflowError('CF_SPEC_INVALID', `'${feature}' is not a category feature of spec ${spec.name}`);
      return lookup(context(state, asOf, new Float64Array(columns.length)));
    },
    isLabelEvent: labelMatches,
    signupTime(state: Readonly<CustomerState>, asOf: number): number | null {
      if (!signupLast) return null;
      const v = signupLast(context(state, asOf, new Float64Array(columns.length)));
      return typeof v === 'number' ? v : null;
    },
  });
}

function matches(where: EventFilter | undefined, event: ActivityEvent): boolean {
  if (!where) return true;
  const v = event.payload[where.field];
  return where.in.some((x) => x === v);
}

function slotOp(d: SlotDef, event: ActivityEvent): SlotOp | undefined {
  const raw = d.field === undefined ? undefined : event.payload[d.field];
  switch (d.source) {
    case 'one':
      return { slot: d.id, merge: d.merge, value: 1 };
    case 'time':
      return { slot: d.id, merge: d.merge, value: event.eventTime };
    case 'one_if_field':
      return typeof raw === 'number' && Number.isFinite(raw) ? { slot: d.id, merge: d.merge, value: 1 } : undefined;
    case 'field':
      if (d.merge === 'last') return raw === null || raw === undefined ? undefined : { slot: d.id, merge: 'last', value: [event.eventTime, raw] };
      return typeof raw === 'number' && Number.isFinite(raw) ? { slot: d.id, merge: d.merge, value: raw } : undefined;
    case 'bit_of_field':
      return raw === null || raw === undefined ? undefined : { slot: d.id, merge: 'bits', value: bitIndexFor(raw) };
  }
}

function num(v: SlotValue | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined;
}
