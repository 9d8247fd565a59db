// Applies the domain rules (ranges, future timestamps, signup order) to accepted events; violations
// go to the dead-letter route with their code. Rejections from earlier stages pass through untouched.
import { map, type OperatorFunction } from 'rxjs';
import { reject, type Routed } from '../events/routed.js';
import { validateEvent, type ValidationRules } from '../events/validate-event.js';
import type { Clock } from '../time/clock.js';

export function validateEvents(rules: ValidationRules, clock: Clock): OperatorFunction<Routed, Routed> {
  return map((item) => {
    if (item.tag !== 'accepted') return item;
    const violation = validateEvent(item.event, rules, clock.now());
    return violation ? reject(item.record, 'dead-letter', violation.code, violation.detail, item.event) : item;
  });
}
