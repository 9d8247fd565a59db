// Compiles a feature spec into (1) the slot ops an event contributes to state and (2) the evaluator
// that turns a customer's state into the feature row as of a time. Both paths, stream and replay,
// go through these two functions; nothing else knows what a feature means.
import { DAY_MS, type ActivityEvent, type Scalar, type SourcePosition } from '../events/activity-event.js';
import { ChurnflowError } from '../errors.js';
import type { CustomerState, StateDelta, StateLayout } from '../state/customer-state.js';
import { bitIndexFor, type SlotMerge, type SlotOp } from '../state/slots.js';
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
type ColumnEval = (ctx: EvalContext) => void;

interface EvalContext {
  asOf: number;
  out: Float64Array;
  readonly totals: WindowTotals;
}

/** A slot (and window) resolved to WindowTotals indices once all slots are known. */
interface SlotRef {
  readonly id: string;
  i: number;
  level: number;
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
    pushColumn({ name, feature: name, missingIndicator, kind: 'numeric' }, (ctx) => {
      ctx.out[i] = fn(ctx);
    });
  };
  const refs: SlotRef[] = [];
  const ref = (id: string, windowDays?: number): SlotRef => {
    const r: SlotRef = { id, i: -1, level: windowDays ?? -1 };
    refs.push(r);
    return r;
  };
  const lastOf = (from: readonly { event: string; field: string }[]) => {
    const rs = from.map((s) => ref(addSlot({ event: s.event, where: undefined, merge: 'last', source: 'field', field: s.field })));
    return (ctx: EvalContext): Scalar => {
      let best: SlotRef | undefined;
      let bestT = Number.NEGATIVE_INFINITY;
      for (const r of rs) {
        const t = ctx.totals.lastTime(r.i, r.level);
        if (t > bestT) {
          bestT = t;
          best = r;
        }
      }
      return best ? (ctx.totals.lastValue(best.i, best.level) ?? null) : null;
    };
  };

  for (const f of spec.features) {
    switch (f.type) {
      case 'window': {
        maxWindowDays = Math.max(maxWindowDays, f.windowDays);
        const w = f.windowDays;
        const orZero = (x: number) => (Number.isNaN(x) ? 0 : x);
        if (f.agg === 'count' || f.agg === 'sum') {
          const s = ref(addSlot({ event: f.event, where: f.where, merge: 'add', source: f.agg === 'count' ? 'one' : 'field', field: f.agg === 'count' ? undefined : f.field }), w);
          numeric(f.name, f.missingIndicator, (ctx) => orZero(ctx.totals.num(s.i, s.level)));
        } else if (f.agg === 'mean') {
          const s = ref(addSlot({ event: f.event, where: f.where, merge: 'add', source: 'field', field: f.field }), w);
          const n = ref(addSlot({ event: f.event, where: f.where, merge: 'add', source: 'one_if_field', field: f.field }), w);
          numeric(f.name, f.missingIndicator, (ctx) => {
            const count = orZero(ctx.totals.num(n.i, n.level));
            return count > 0 ? orZero(ctx.totals.num(s.i, s.level)) / count : Number.NaN;
          });
        } else if (f.agg === 'max' || f.agg === 'min') {
          const s = ref(addSlot({ event: f.event, where: f.where, merge: f.agg, source: 'field', field: f.field }), w);
          numeric(f.name, f.missingIndicator, (ctx) => ctx.totals.num(s.i, s.level));
        } else {
          const s = ref(addSlot({ event: f.event, where: f.where, merge: 'bits', source: 'bit_of_field', field: f.field }), w);
          numeric(f.name, f.missingIndicator, (ctx) => ctx.totals.distinct(s.i, s.level));
        }
        break;
      }
      case 'recency': {
        const s = ref(addSlot({ event: f.event, where: f.where, merge: 'max', source: 'time', field: undefined }));
        numeric(f.name, f.missingIndicator, (ctx) => {
          const t = ctx.totals.num(s.i, s.level);
          return Number.isNaN(t) ? Number.NaN : Math.max(0, (ctx.asOf - t) / DAY_MS);
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
        const base = columns.length;
        const known = new Map(f.categories.map((c, k) => [c, k]));
        const other = f.categories.length;
        // One lookup writes all of the feature's one-hot columns (the other columns' evals are no-ops).
        f.categories.forEach((cat, k) =>
          pushColumn({ name: `${f.name}__${cat}`, feature: f.name, missingIndicator: false, kind: 'indicator' }, k > 0 ? () => {} : (ctx) => {
            const v = lookup(ctx);
            for (let j = 0; j <= other; j++) ctx.out[base + j] = 0;
            if (v !== null) ctx.out[base + (known.get(v) ?? other)] = 1;
          }),
        );
        pushColumn({ name: `${f.name}__other`, feature: f.name, missingIndicator: false, kind: 'indicator' }, () => {});
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
        const ia = colIndex.get(a)!;
        const ib = colIndex.get(b)!;
        numeric(f.name, f.missingIndicator, (ctx) => {
          const x = ctx.out[ia]!;
          const y = ctx.out[ib]!;
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

  // 'last' slots are the only ones that keep a payload string. A string longer than every category
  // the spec names maps to 'other' (or NaN for a numeric profile) whatever its tail, so keeping only
  // its head changes no feature, and one huge field can never blow the customer's byte budget.
  const keptChars = Math.max(MIN_KEPT_CHARS, ...spec.features.flatMap((f) => (f.type === 'category' ? f.categories.map((c) => c.length) : []))) + 1;

  const opsFor = (event: ActivityEvent): SlotOp[] => {
    const defs = slotsByEvent.get(event.kind);
    if (!defs) return [];
    const ops: SlotOp[] = [];
    for (const d of defs) {
      if (!matches(d.where, event)) continue;
      const op = slotOp(d, event, keptChars);
      if (op) ops.push(op);
    }
    return ops;
  };

  const totals = new WindowTotals(layout.merges, windowLengths);
  for (const r of refs) {
    r.i = totals.index(r.id);
    r.level = r.level < 0 ? totals.allTime : totals.level(r.level);
  }
  // One reused context: evaluate() runs once per scored event and must not allocate per call.
  // A window of W days as of t covers the day buckets that start in [t − W days, t): buckets starting
  // at or after t are never read, which is what makes snapshot rows point-in-time correct.
  const ctx: EvalContext = { asOf: 0, out: new Float64Array(columns.length), totals };
  const context = (state: Readonly<CustomerState>, asOf: number, out: Float64Array): EvalContext => {
    totals.load(state, asOf);
    ctx.asOf = asOf;
    ctx.out = out;
    return ctx;
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
      const c = context(state, asOf, out);
      for (const ev of evals) ev(c);
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

/** Strings in 'last' slots keep at least this many characters (more when a category is longer). */
const MIN_KEPT_CHARS = 64;

/** The head of a long string, never ending on half a surrogate pair (JSON and Lua cjson must round-trip it). */
export function clampString(value: string, maxChars: number): string {
  if (value.length <= maxChars) return value;
  const code = value.charCodeAt(maxChars - 1);
  return value.slice(0, code >= 0xd800 && code <= 0xdbff ? maxChars - 1 : maxChars);
}

function slotOp(d: SlotDef, event: ActivityEvent, keptChars: number): SlotOp | undefined {
  const raw = d.field === undefined ? undefined : event.payload[d.field];
  switch (d.source) {
    case 'one':
      return { slot: d.id, merge: d.merge, value: 1 };
    case 'time':
      return { slot: d.id, merge: d.merge, value: event.eventTime };
    case 'one_if_field':
      return typeof raw === 'number' && Number.isFinite(raw) ? { slot: d.id, merge: d.merge, value: 1 } : undefined;
    case 'field':
      if (d.merge === 'last') {
        if (raw === null || raw === undefined) return undefined;
        return { slot: d.id, merge: 'last', value: [event.eventTime, typeof raw === 'string' ? clampString(raw, keptChars) : raw] };
      }
      return typeof raw === 'number' && Number.isFinite(raw) ? { slot: d.id, merge: d.merge, value: raw } : undefined;
    case 'bit_of_field':
      return raw === null || raw === undefined ? undefined : { slot: d.id, merge: 'bits', value: bitIndexFor(raw) };
  }
}

