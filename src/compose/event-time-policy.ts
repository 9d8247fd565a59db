// The one event-time policy of the engine and every command: allowed lateness, the watermark rule
// (skew bound, idleness), the validation rules (future time, minEventTime, ranges, lengths) and the
// "now" the future-time check is judged against. Built once from the config, so no path can judge an
// event's time by a rule of its own (docs/architecture.md, "One composition root").
import type { ChurnflowConfig } from '../config/config-schema.js';
import { validationRules } from '../config/validation-rules.js';
import type { ValidationRules } from '../events/validate-event.js';
import { fixedClock, systemClock, type Clock } from '../time/clock.js';
import { ReplayClock } from '../time/replay-clock.js';
import { WatermarkTracker, type WatermarkOptions } from '../time/watermark.js';

export interface EventTimeContext {
  /** `--now`: the reference "now" of the future-time check, when the caller pins it. */
  readonly now?: number;
  /** The input is simulated and ends here: "now" is that end (simulated history may lie ahead of today, and a rerun must judge alike). */
  readonly simulatedEnd?: number;
  /** The wall clock (tests inject one). */
  readonly wallClock?: Clock;
}

export interface EventTimePolicy {
  /** Events this far behind their stream's watermark still count; older ones go to the late route. */
  readonly allowedLatenessMs: number;
  /** Domain checks, validation limits and the declared kinds' ranges. */
  readonly rules: ValidationRules;
  /** "Now" for FUTURE_TIME: `--now`, else the simulated end, else the wall clock. */
  readonly validationClock: Clock;
  /** The watermark rule, skew and idleness measured against `eventClock` (processing time live, the replay clock offline). */
  watermarkOptions(eventClock: Clock): WatermarkOptions;
  /** A fresh tracker under the rule. */
  watermarks(eventClock: Clock): WatermarkTracker;
  /** The event-time "now" of an offline replay: follows the input, one outlier moves it at most maxSkewMs. */
  replayClock(): ReplayClock;
}

export function buildEventTimePolicy(config: Readonly<ChurnflowConfig>, context: EventTimeContext = {}): EventTimePolicy {
  const { allowedLatenessMs } = config.engine;
  const { maxSkewMs, idleTimeoutMs } = config.engine.watermark;
  const validationClock = context.now !== undefined ? fixedClock(context.now) : context.simulatedEnd !== undefined ? fixedClock(context.simulatedEnd) : (context.wallClock ?? systemClock);
  const watermarkOptions = (eventClock: Clock): WatermarkOptions => ({ allowedLatenessMs, maxSkewMs, ...(idleTimeoutMs > 0 ? { idleTimeoutMs } : {}), clock: eventClock });
  return {
    allowedLatenessMs,
    rules: validationRules(config),
    validationClock,
    watermarkOptions,
    watermarks: (eventClock) => new WatermarkTracker(watermarkOptions(eventClock)),
    replayClock: () => new ReplayClock({ maxSkewMs }),
  };
}
