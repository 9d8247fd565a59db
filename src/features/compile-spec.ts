// Compiles a feature spec into (1) the slot ops an event contributes to state and (2) the evaluator
// that turns a customer's state into the feature row as of a time. Both paths, stream and replay,
// go through these two functions; nothing else knows what a feature means.
import { DAY_MS, type ActivityEvent, type Scalar, type SourcePosition } from '../events/activity-event.js';
import { ChurnflowError } from '../errors.js';
import type { CustomerState, StateDelta, StateLayout } from '../state/customer-state.js';
import { BITSET_BITS, bitIndexFor, bucketListener, type SlotMerge, type SlotOp } from '../state/slots.js';
import { WindowTotals } from './window-totals.js';
import { canonicalJson, sha256Hex } from './canonical-json.js';
import { ANY_EVENT, parseFeatureSpec, type EventFilter, type FeatureSpec, type FeatureSpecInput } from './spec.js';

type SlotSource = 'one' | 'field' | 'one_if_field' | 'time' | 'bit_of_field';

interface SlotDef {
  readonly id: string;
  readonly event: string;
  readonly where: EventFilter | undefined;
  readonly merge: SlotMerge;
  readonly source: SlotSource;
  readonly field: string | undefined;
  /** The op of one event for 'one' and 'one_if_field' slots: the same every time, so made once. */
  readonly unit: SlotOp;
  /** 'bit_of_field' slots: the op setting each bit, made at its first use (merges never change an op). */
  readonly bitOps: (SlotOp | undefined)[];
}

/**
 * How one output column is computed. The common kinds are codes that evaluate() runs in one switch
 * (a call per column through an array of closures was megamorphic and cost about as much as the
 * window arithmetic itself); trends, profiles and categories keep a closure (CUSTOM).
 */
const SUM = 0; //          a count or sum: the slot's total over the window, 0 when absent
const EXTREMUM = 1; //     max / min: the slot's total, NaN when absent
const ACTIVE_DAYS = 2;
const MEAN = 3; //         a's total / b's total (b the count of events with the field), NaN for none
const DISTINCT = 4;
const DAYS_SINCE = 5; //   recency / first event: days from the slot's time (max / min) to asOf
const RATIO = 6; //        column ia / column ib × scale
const DIFFERENCE = 7; //   column ia − column ib × scale
const SKIP = 8; //         written by another column (a category's one-hot columns)
const CUSTOM = 9;
const PROFILE = 10; //     the latest value of `lasts`, a finite number (days since / until it as `transform`), else NaN
const CATEGORY = 11; //    one-hot columns k..k+ib of the latest value of `lasts` (ib: 'other'), all 0 when none

interface ColumnStep {
  readonly code: number;
  readonly a: SlotRef | undefined;
  readonly b: SlotRef | undefined;
  readonly ia: number;
  readonly ib: number;
  readonly scale: number;
  readonly run: ((ctx: EvalContext) => void) | undefined;
  /** PROFILE and CATEGORY: the 'last' slots read, the latest of them wins. */
  readonly lasts: readonly SlotRef[] | undefined;
  /** PROFILE: 0 the value, 1 days since it, 2 days until it. */
  readonly transform: number;
  /** CATEGORY: the named categories' column offsets. */
  readonly known: ReadonlyMap<string, number> | undefined;
}

/** Fills opsFor's scratch between calls (one element kind throughout). */
const NO_OP: SlotOp = Object.freeze({ slot: '', merge: 'add', value: 0 });

const NO_STEP: ColumnStep = { code: SKIP, a: undefined, b: undefined, ia: -1, ib: -1, scale: 1, run: undefined, lasts: undefined, transform: 0, known: undefined };

/**
 * A ColumnStep as evaluate() runs it, once the slot refs are resolved: their indices copied into the
 * step (no hop through a ref per read), one shape for every step. CATEGORY remembers its last value
 * and the column it maps to: a customer's category rarely changes between rows, and the lookup
 * (String() and a Map get per category per row) is then skipped; the column is a function of the value.
 */
interface RunStep {
  readonly code: number;
  readonly ai: number;
  readonly al: number;
  readonly af: number;
  readonly bi: number;
  readonly bl: number;
  readonly bf: number;
  readonly ia: number;
  readonly ib: number;
  readonly scale: number;
  readonly run: ((ctx: EvalContext) => void) | undefined;
  readonly lasts: readonly SlotRef[] | undefined;
  readonly transform: number;
  readonly known: ReadonlyMap<string, number> | undefined;
  memoValue: Scalar | undefined;
  memoColumn: number;
}

function runStep(s: ColumnStep): RunStep {
  const { code, a, b, ia, ib, scale, run, lasts, transform, known } = s;
  return { code, ai: a?.i ?? -1, al: a?.level ?? -1, af: a?.from ?? 0, bi: b?.i ?? -1, bl: b?.level ?? -1, bf: b?.from ?? 0, ia, ib, scale, run, lasts, transform, known, memoValue: undefined, memoColumn: -1 };
}

interface EvalContext {
  asOf: number;
  out: Float64Array;
  /** The customer's incrementally kept totals, or the shared scratch filled by a full pass. */
  totals: WindowTotals;
}

/**
 * A slot and a window resolved to WindowTotals indices once all slots are known: levels from..level.
 * A window of W days ending `offset` days before the observation time spans the levels after the
 * offset's edge up to the edge at offset + W; without an offset it starts at level 0.
 */
interface SlotRef {
  readonly id: string;
  /** Window edges in days before asOf: [offsetDays, endDays); endDays -1 means all time. */
  readonly offsetDays: number;
  readonly endDays: number;
  i: number;
  level: number;
  from: number;
}

/** One model input column (intermediate features have none). */
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
  /**
   * 'incremental' (the default): each customer's window totals are kept up to date as events apply.
   * 'full-pass': every read recomputes them from all the buckets, the reference that tests and the
   * pipeline-throughput bench compare the incremental path with (the values are identical).
   */
  readonly windowTotals?: 'incremental' | 'full-pass';
}

export function compileSpec(input: FeatureSpecInput | FeatureSpec, options: CompileOptions = {}): CompiledSpec {
  const spec = parseFeatureSpec(input);
  const slots = new Map<string, SlotDef>();
  const slotsByEvent = new Map<string, SlotDef[]>();
  const addSlot = (def: Omit<SlotDef, 'id' | 'unit' | 'bitOps'>): string => {
    const id = sha256Hex(canonicalJson(def)).slice(0, 10);
    if (!slots.has(id)) {
      const bitOps = def.source === 'bit_of_field' ? new Array<SlotOp | undefined>(BITSET_BITS).fill(undefined) : [];
      const full = { ...def, id, unit: Object.freeze({ slot: id, merge: def.merge, value: 1 }), bitOps };
      slots.set(id, full);
      const list = slotsByEvent.get(def.event) ?? [];
      list.push(full);
      slotsByEvent.set(def.event, list);
    }
    return id;
  };

  // Every computed value, intermediate ones included, in declaration order; `columns` (the model's
  // inputs) is the subset without intermediates. Ratios and differences read this full vector.
  const columns: FeatureColumn[] = [];
  const intermediate: boolean[] = [];
  const steps: ColumnStep[] = [];
  const colIndex = new Map<string, number>();
  const numericFeatures = new Set<string>();
  const categoryLookups = new Map<string, (ctx: EvalContext) => string | null>();
  let maxWindowDays = 1;
  const windowEdges = new Set<number>();

  const pushColumn = (col: FeatureColumn, step: Partial<ColumnStep> & { code: number }, isIntermediate = false) => {
    colIndex.set(col.name, columns.length);
    columns.push(col);
    intermediate.push(isIntermediate);
    steps.push({ ...NO_STEP, ...step }); // one shape for every step: the switch's reads stay monomorphic
  };
  const numeric = (name: string, missingIndicator: boolean, step: Partial<ColumnStep> & { code: number }, isIntermediate = false) => {
    numericFeatures.add(name);
    pushColumn({ name, feature: name, missingIndicator, kind: 'numeric' }, step, isIntermediate);
  };
  /** A numeric column computed by a closure (kinds read rarely enough, or too varied, for a code). */
  const custom = (name: string, missingIndicator: boolean, fn: (ctx: EvalContext) => number, isIntermediate = false) => {
    const i = columns.length;
    numeric(name, missingIndicator, { code: CUSTOM, run: (ctx) => void (ctx.out[i] = fn(ctx)) }, isIntermediate);
  };
  const refs: SlotRef[] = [];
  /** A slot over [offsetDays, offsetDays + windowDays) days before asOf, or over all time without windowDays. */
  const ref = (id: string, windowDays?: number, offsetDays = 0): SlotRef => {
    const endDays = windowDays === undefined ? -1 : offsetDays + windowDays;
    if (endDays > 0) {
      windowEdges.add(endDays);
      if (offsetDays > 0) windowEdges.add(offsetDays);
      maxWindowDays = Math.max(maxWindowDays, endDays);
    }
    const r: SlotRef = { id, offsetDays, endDays, i: -1, level: -1, from: 0 };
    refs.push(r);
    return r;
  };
  const countSlot = (f: { event: string; where?: EventFilter | undefined }) =>
    addSlot({ event: f.event, where: f.where, merge: 'add', source: 'one', field: undefined });
  const orZero = (x: number) => (Number.isNaN(x) ? 0 : x);
  const lastRefs = (from: readonly { event: string; field: string }[]): SlotRef[] =>
    from.map((s) => ref(addSlot({ event: s.event, where: undefined, merge: 'last', source: 'field', field: s.field })));
  const lastOf = (from: readonly { event: string; field: string }[]) => {
    const rs = lastRefs(from);
    return (ctx: EvalContext): Scalar => ctx.totals.latest(rs);
  };

  for (const f of spec.features) {
    switch (f.type) {
      case 'window': {
        const w = f.windowDays;
        const o = f.offsetDays ?? 0;
        const mid = f.intermediate === true;
        if (f.agg === 'count' || f.agg === 'sum') {
          const s = ref(addSlot({ event: f.event, where: f.where, merge: 'add', source: f.agg === 'count' ? 'one' : 'field', field: f.agg === 'count' ? undefined : f.field }), w, o);
          numeric(f.name, f.missingIndicator, { code: SUM, a: s }, mid);
        } else if (f.agg === 'active_days') {
          const s = ref(countSlot(f), w, o);
          numeric(f.name, f.missingIndicator, { code: ACTIVE_DAYS, a: s }, mid);
        } else if (f.agg === 'mean') {
          const s = ref(addSlot({ event: f.event, where: f.where, merge: 'add', source: 'field', field: f.field }), w, o);
          const n = ref(addSlot({ event: f.event, where: f.where, merge: 'add', source: 'one_if_field', field: f.field }), w, o);
          numeric(f.name, f.missingIndicator, { code: MEAN, a: s, b: n }, mid);
        } else if (f.agg === 'max' || f.agg === 'min') {
          const s = ref(addSlot({ event: f.event, where: f.where, merge: f.agg, source: 'field', field: f.field }), w, o);
          numeric(f.name, f.missingIndicator, { code: EXTREMUM, a: s }, mid);
        } else {
          const s = ref(addSlot({ event: f.event, where: f.where, merge: 'bits', source: 'bit_of_field', field: f.field }), w, o);
          numeric(f.name, f.missingIndicator, { code: DISTINCT, a: s }, mid);
        }
        break;
      }
      case 'recency': {
        const s = ref(addSlot({ event: f.event, where: f.where, merge: 'max', source: 'time', field: undefined }));
        numeric(f.name, f.missingIndicator, { code: DAYS_SINCE, a: s }, f.intermediate === true);
        break;
      }
      case 'first_event': {
        // The earliest event time per day bucket (and in the archive: min merges keep it forever).
        const s = ref(addSlot({ event: f.event, where: f.where, merge: 'min', source: 'time', field: undefined }), f.windowDays);
        numeric(f.name, f.missingIndicator, { code: DAYS_SINCE, a: s }, f.intermediate === true);
        break;
      }
      case 'trend': {
        const slot = f.agg === 'sum' ? addSlot({ event: f.event, where: f.where, merge: 'add', source: 'field', field: f.field }) : countSlot(f);
        // Period 0 is the oldest: [ (n−j)·p, (n−j+1)·p ) days back for j = 0..n−1 → x = j.
        const periods = Array.from({ length: f.periods }, (_, j) => ref(slot, f.periodDays, (f.periods - 1 - j) * f.periodDays));
        const n = f.periods;
        const meanX = (n - 1) / 2;
        let sxx = 0;
        for (let j = 0; j < n; j++) sxx += (j - meanX) ** 2;
        const activeDays = f.agg === 'active_days';
        custom(f.name, f.missingIndicator, (ctx) => {
          let sy = 0;
          let sxy = 0;
          for (let j = 0; j < n; j++) {
            const p = periods[j]!;
            const y = activeDays ? ctx.totals.activeDays(p.i, p.level, p.from) : orZero(ctx.totals.num(p.i, p.level, p.from));
            sy += y;
            sxy += (j - meanX) * y;
          }
          // Σ(x − x̄)(y − ȳ) = Σ(x − x̄)·y, since Σ(x − x̄) = 0.
          return sy === 0 ? 0 : sxy / sxx;
        }, f.intermediate === true);
        break;
      }
      case 'profile': {
        const transform = f.transform === 'days_since' ? 1 : f.transform === 'days_until' ? 2 : 0;
        numeric(f.name, f.missingIndicator, { code: PROFILE, lasts: lastRefs(f.from), transform });
        break;
      }
      case 'category': {
        if (f.missingIndicator) {
          throw new ChurnflowError('CF_SPEC_INVALID', `invalid feature spec: category '${f.name}' cannot have missingIndicator (all-zero columns already say missing)`);
        }
        const rs = lastRefs(f.from);
        const lookup = (ctx: EvalContext) => {
          const v = ctx.totals.latest(rs);
          return v === null ? null : String(v);
        };
        categoryLookups.set(f.name, lookup);
        const known = new Map(f.categories.map((c, k) => [c, k]));
        const other = f.categories.length;
        // One step writes all of the feature's one-hot columns (the other columns' steps are no-ops).
        f.categories.forEach((cat, k) =>
          pushColumn({ name: `${f.name}__${cat}`, feature: f.name, missingIndicator: false, kind: 'indicator' }, k > 0 ? { code: SKIP } : { code: CATEGORY, lasts: rs, known, ib: other }),
        );
        pushColumn({ name: `${f.name}__other`, feature: f.name, missingIndicator: false, kind: 'indicator' }, { code: SKIP });
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
        const step = f.type === 'ratio' ? { code: RATIO, ia, ib, scale: f.scale } : { code: DIFFERENCE, ia, ib, scale: f.scaleRight };
        numeric(f.name, f.missingIndicator, step, f.intermediate === true);
        break;
      }
    }
  }

  const label = spec.label;
  const labelMatches = (e: ActivityEvent) => (label.event === ANY_EVENT || e.kind === label.event) && matches(label.where, e);
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
  const windowLengths = [...windowEdges].sort((x, y) => x - y);
  // The model's inputs: every computed value but the intermediate ones, in declaration order.
  const outputIndex = Int32Array.from(columns.flatMap((_, k) => (intermediate[k] ? [] : [k])));
  const modelColumns = Array.from(outputIndex, (k) => columns[k]!);
  const allOutputs = outputIndex.length === columns.length;

  // 'last' slots are the only ones that keep a payload string. A string longer than every category
  // the spec names maps to 'other' (or NaN for a numeric profile) whatever its tail, so keeping only
  // its head changes no feature, and one huge field can never blow the customer's byte budget.
  const keptChars = Math.max(MIN_KEPT_CHARS, ...spec.features.flatMap((f) => (f.type === 'category' ? f.categories.map((c) => c.length) : []))) + 1;

  // Slots of a kind plus the any-event slots, merged once per kind named in the spec; a kind the spec
  // does not name gets the any-event slots alone (no per-kind entry: kinds come from the input).
  const anyDefs = slotsByEvent.get(ANY_EVENT) ?? [];
  const defsByKind = new Map([...slotsByEvent].filter(([k]) => k !== ANY_EVENT).map(([k, defs]) => [k, [...defs, ...anyDefs]]));
  const opScratch = new Array<SlotOp>(Math.max(anyDefs.length, ...[...defsByKind.values()].map((d) => d.length))).fill(NO_OP);
  const opsFor = (event: ActivityEvent): SlotOp[] => {
    const defs = defsByKind.get(event.kind) ?? anyDefs;
    if (defs.length === 0) return [];
    // Gathered in a reused scratch, then copied out at their exact count: an empty literal grown by
    // push gets a backing store of 17 slots at its first push, and it lives as long as the batch.
    let n = 0;
    for (let k = 0; k < defs.length; k++) {
      const d = defs[k]!;
      if (!matches(d.where, event)) continue;
      const op = slotOp(d, event, keptChars);
      if (op) opScratch[n++] = op;
    }
    const ops = opScratch.slice(0, n);
    for (let k = 0; k < n; k++) opScratch[k] = NO_OP; // hold no event's op past the call (a loop: fill() is a builtin call for ~3 slots)
    return ops;
  };

  // The scratch serves full passes (out-of-order reads, a state another spec follows) and resolves indices.
  const windowed = new Set(refs.filter((r) => r.endDays > 0).map((r) => r.id));
  const totals = new WindowTotals(layout.merges, windowLengths, windowed);
  for (const r of refs) {
    r.i = totals.index(r.id);
    r.level = r.endDays < 0 ? totals.allTime : totals.level(r.endDays);
    r.from = r.offsetDays > 0 ? totals.level(r.offsetDays) + 1 : 0;
  }
  const runs = steps.map(runStep);
  // One reused context: evaluate() runs once per scored event and must not allocate per call.
  // A window of W days as of t covers the day buckets that start in [t − W days, t): buckets starting
  // at or after t are never read, which is what makes snapshot rows point-in-time correct.
  const ctx: EvalContext = { asOf: 0, out: new Float64Array(columns.length), totals };
  // The first read of a state builds its totals in one pass and attaches them; applyDelta then keeps
  // them in step and later reads only move the anchor, so a scored event costs O(its ops), not
  // O(buckets). A read before the anchor (an out-of-order event, an earlier observation time) cannot
  // un-move days: it takes the full pass, exact by construction.
  const incremental = options.windowTotals !== 'full-pass';
  const totalsFor = (state: Readonly<CustomerState>, asOf: number): WindowTotals => {
    if (incremental) {
      const attached = bucketListener(state);
      if (attached === undefined) {
        const own = totals.sibling();
        own.load(state, asOf);
        own.attachTo(state);
        return own;
      }
      if (attached instanceof WindowTotals && attached.sameShape(totals) && attached.advance(state, asOf)) return attached;
    }
    totals.load(state, asOf);
    return totals;
  };

  const everyValue = new Float64Array(columns.length);
  const context = (state: Readonly<CustomerState>, asOf: number, out: Float64Array): EvalContext => {
    ctx.totals = totalsFor(state, asOf);
    ctx.asOf = asOf;
    ctx.out = out;
    return ctx;
  };

  return Object.freeze({
    spec,
    hash,
    columns: Object.freeze(modelColumns),
    layout,
    maxWindowDays,
    opsFor,
    deltaFor(event: ActivityEvent, position: SourcePosition): StateDelta {
      const ops = opsFor(event);
      const { customerId, eventId, eventTime } = event;
      // Two literals, not a spread: one object per event on the hot path.
      return signupSlot === undefined ? { customerId, eventId, eventTime, position, ops } : { customerId, eventId, eventTime, position, ops, signupSlot };
    },
    signupSlot,
    evaluate(state: Readonly<CustomerState>, asOf: number, out = new Float64Array(modelColumns.length)): Float64Array {
      if (allOutputs) {
        runSteps(runs, context(state, asOf, out));
        return out;
      }
      runSteps(runs, context(state, asOf, everyValue));
      for (let k = 0; k < outputIndex.length; k++) out[k] = everyValue[outputIndex[k]!]!;
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

/** Every column in declaration order (ratios and differences read columns computed before them). */
function runSteps(steps: readonly RunStep[], ctx: EvalContext): void {
  const { totals, out, asOf } = ctx;
  for (let k = 0; k < steps.length; k++) {
    const s = steps[k]!;
    switch (s.code) {
      case SUM: {
        const x = totals.num(s.ai, s.al, s.af);
        out[k] = Number.isNaN(x) ? 0 : x;
        break;
      }
      case EXTREMUM:
        out[k] = totals.num(s.ai, s.al, s.af);
        break;
      case ACTIVE_DAYS:
        out[k] = totals.activeDays(s.ai, s.al, s.af);
        break;
      case MEAN: {
        const count = totals.num(s.bi, s.bl, s.bf);
        if (count > 0) {
          const sum = totals.num(s.ai, s.al, s.af);
          out[k] = (Number.isNaN(sum) ? 0 : sum) / count;
        } else out[k] = Number.NaN; // NaN > 0 is false: no count is no mean
        break;
      }
      case DISTINCT:
        out[k] = totals.distinct(s.ai, s.al, s.af);
        break;
      case DAYS_SINCE: {
        const t = totals.num(s.ai, s.al, s.af);
        out[k] = Number.isNaN(t) ? Number.NaN : Math.max(0, (asOf - t) / DAY_MS);
        break;
      }
      case RATIO: {
        const x = out[s.ia]!;
        const y = out[s.ib]!;
        out[k] = Number.isNaN(x) || Number.isNaN(y) || y === 0 ? Number.NaN : (x / y) * s.scale;
        break;
      }
      case DIFFERENCE: {
        const x = out[s.ia]!;
        const y = out[s.ib]!;
        out[k] = Number.isNaN(x) || Number.isNaN(y) ? Number.NaN : x - y * s.scale;
        break;
      }
      case PROFILE: {
        const v = totals.latest(s.lasts!);
        if (typeof v !== 'number' || !Number.isFinite(v)) out[k] = Number.NaN;
        else out[k] = s.transform === 1 ? (asOf - v) / DAY_MS : s.transform === 2 ? (v - asOf) / DAY_MS : v;
        break;
      }
      case CATEGORY: {
        const v = totals.latest(s.lasts!);
        if (v !== s.memoValue) {
          s.memoValue = v;
          s.memoColumn = v === null ? -1 : (s.known!.get(String(v)) ?? s.ib);
        }
        for (let j = 0; j <= s.ib; j++) out[k + j] = 0;
        if (s.memoColumn >= 0) out[k + s.memoColumn] = 1;
        break;
      }
      case SKIP:
        break;
      default:
        s.run!(ctx);
    }
  }
}

function matches(where: EventFilter | undefined, event: ActivityEvent): boolean {
  if (!where) return true;
  const v = event.payload[where.field];
  for (let k = 0; k < where.in.length; k++) if (where.in[k] === v) return true;
  return false;
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
      return d.unit;
    case 'time':
      return { slot: d.id, merge: d.merge, value: event.eventTime };
    case 'one_if_field':
      return typeof raw === 'number' && Number.isFinite(raw) ? d.unit : undefined;
    case 'field':
      if (d.merge === 'last') {
        if (raw === null || raw === undefined) return undefined;
        return { slot: d.id, merge: 'last', value: [event.eventTime, typeof raw === 'string' ? clampString(raw, keptChars) : raw] };
      }
      return typeof raw === 'number' && Number.isFinite(raw) ? { slot: d.id, merge: d.merge, value: raw } : undefined;
    case 'bit_of_field': {
      if (raw === null || raw === undefined) return undefined;
      const bit = bitIndexFor(raw);
      // One frozen op per bit, shared by every event that sets it: no object per event.
      return (d.bitOps[bit] ??= Object.freeze({ slot: d.id, merge: 'bits' as const, value: bit }));
    }
  }
}

