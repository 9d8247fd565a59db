// The current-risk view: a customer's last published risk. One shape for the compacted current-risk
// topic and the HTTP lookup, both derived from what the emit rule remembers (state.lastScore), so the
// topic's latest record per key and the lookup can never disagree.
import type { CurrentRiskRecord, RiskEventRecord } from '../events/wire-types.js';
import type { LastScore } from '../state/customer-state.js';

/** What publishing `event` leaves in the customer's state. */
export function lastScoreOf(event: RiskEventRecord): LastScore {
  return { score: event.score, band: event.band, modelName: event.model_name, modelVersion: event.model_version, eventTime: event.event_time, riskEventId: event.event_id };
}

export function currentRiskRecord(customerId: string, last: LastScore): CurrentRiskRecord {
  return {
    customer_id: customerId,
    score: last.score,
    band: last.band,
    model_name: last.modelName,
    model_version: last.modelVersion,
    event_time: last.eventTime,
    risk_event_id: last.riskEventId,
  };
}

/** The current-risk record a published risk event writes. */
export function currentRiskOf(event: RiskEventRecord): CurrentRiskRecord {
  return currentRiskRecord(event.customer_id, lastScoreOf(event));
}
