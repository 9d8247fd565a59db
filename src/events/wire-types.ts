// TypeScript mirrors of schemas/*.avsc (wire form, snake_case). test/unit/events/wire-types.test.ts
// proves each matches its schema field for field, so a schema change without a type change fails.

export interface LoginPayload { device: string; success: boolean }
export interface SessionPayload { duration_seconds: number; content_items: number; content_id: string | null }
export type PaymentStatus = 'SUCCEEDED' | 'FAILED' | 'UNKNOWN';
export interface PaymentPayload { status: PaymentStatus; amount_cents: number; discount_cents: number; currency: string }
export type PlanChangeType = 'UPGRADE' | 'DOWNGRADE' | 'CANCEL' | 'UNKNOWN';
export interface PlanChangePayload { change: PlanChangeType; from_plan: string | null; to_plan: string | null; reason: string | null }
export interface SupportTicketPayload { category: string; is_complaint: boolean; satisfaction: number | null }
export interface ProfilePayload {
  signup_time: number;
  plan: string;
  payment_method: string;
  region: string;
  age: number | null;
  renewal_time: number | null;
}
/** A user-declared kind (input.kinds): its name is the engine's event kind (docs/input-mapping.md). */
export interface CustomPayload { name: string; value: number; measures: Record<string, number>; attributes: Record<string, string> }

export interface PayloadByKind {
  login: LoginPayload;
  session: SessionPayload;
  payment: PaymentPayload;
  plan_change: PlanChangePayload;
  support_ticket: SupportTicketPayload;
  profile: ProfilePayload;
  custom: CustomPayload;
}
export type ActivityKind = keyof PayloadByKind;

/** Avro union branch (record name) for each kind. */
export const AVRO_BRANCH_BY_KIND: Readonly<Record<ActivityKind, string>> = Object.freeze({
  login: 'io.churnflow.events.Login',
  session: 'io.churnflow.events.Session',
  payment: 'io.churnflow.events.Payment',
  plan_change: 'io.churnflow.events.PlanChange',
  support_ticket: 'io.churnflow.events.SupportTicket',
  profile: 'io.churnflow.events.Profile',
  custom: 'io.churnflow.events.Custom',
});
/** The subscription domain's kinds (the simulator's, the default spec's); `custom` carries users' declared kinds. */
export const ACTIVITY_KINDS: readonly ActivityKind[] = Object.freeze((Object.keys(AVRO_BRANCH_BY_KIND) as ActivityKind[]).filter((k) => k !== 'custom'));

/** NDJSON form: the Avro envelope with the union unwrapped and the kind named. */
export type ActivityEventJson = {
  [K in ActivityKind]: { event_id: string; customer_id: string; event_time: number; kind: K; payload: PayloadByKind[K] };
}[ActivityKind];

/** Avro form as avsc reads/writes it with wrapped unions. */
export interface ActivityEventAvro {
  event_id: string;
  customer_id: string;
  event_time: number;
  payload: Record<string, unknown>;
}

export interface RiskReasonRecord { feature: string; value: number | null; contribution: number }
export interface RiskEventRecord {
  event_id: string;
  customer_id: string;
  score: number;
  band: string;
  previous_band: string | null;
  threshold: number;
  above_threshold: boolean;
  model_name: string;
  model_version: string;
  scorer: string;
  experiment_arm: string | null;
  reasons: RiskReasonRecord[];
  trigger_event_id: string;
  event_time: number;
  processing_time: number;
}

/** The compacted current-risk topic's value (key = customer_id): the customer's last published risk. */
export interface CurrentRiskRecord {
  customer_id: string;
  score: number;
  band: string;
  model_name: string;
  model_version: string;
  event_time: number;
  risk_event_id: string;
}

export interface DriftMetricRecord {
  metric_id: string;
  model_name: string;
  model_version: string;
  subject: string;
  statistic: string;
  value: number;
  p_value: number | null;
  severity: string;
  sample_size: number;
  window_start: number;
  window_end: number;
}

export interface DeadLetterRecord {
  dead_letter_id: string;
  route: 'dead-letter' | 'late';
  reason_code: string;
  reason_detail: string;
  source: string;
  source_topic: string | null;
  source_partition: number | null;
  source_offset: string | null;
  original_key: Buffer | null;
  payload: Buffer;
  customer_id: string | null;
  event_time: number | null;
  received_time: number;
  payload_bytes: number | null;
  original_key_bytes: number | null;
  truncated: boolean;
}
