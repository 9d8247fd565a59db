// The churn feature set of the brief, declared over churnflow's own activity schema. Users with other
// events write their own spec (JSON/YAML of the same shape) and pass it with --features.
import type { FeatureSpecInput } from './spec.js';

const windows = [7, 30, 90] as const;
const perWindow = (
  base: string,
  def: Omit<Extract<FeatureSpecInput['features'][number], { type: 'window' }>, 'name' | 'windowDays'>,
  days: readonly number[] = windows,
) => days.map((d) => ({ ...def, name: `${base}_${d}d`, windowDays: d }));

const cancel = { field: 'change', in: ['CANCEL'] };

export const DEFAULT_CHURN_SPEC: FeatureSpecInput = {
  name: 'churn_default',
  version: '1',
  label: { event: 'plan_change', where: cancel, horizonDays: 30 },
  signup: { event: 'profile', field: 'signup_time' },
  features: [
    // tenure and lifecycle
    { name: 'tenure_days', type: 'profile', from: [{ event: 'profile', field: 'signup_time' }], transform: 'days_since', missingIndicator: true },
    { name: 'days_until_renewal', type: 'profile', from: [{ event: 'profile', field: 'renewal_time' }], transform: 'days_until', missingIndicator: true },
    { name: 'age', type: 'profile', from: [{ event: 'profile', field: 'age' }], missingIndicator: true },
    { name: 'plan', type: 'category', from: [{ event: 'profile', field: 'plan' }, { event: 'plan_change', field: 'to_plan' }], categories: ['basic', 'standard', 'premium'] },
    { name: 'payment_method', type: 'category', from: [{ event: 'profile', field: 'payment_method' }], categories: ['card', 'paypal', 'bank_transfer', 'gift_card'] },
    { name: 'region', type: 'category', from: [{ event: 'profile', field: 'region' }], categories: ['na', 'eu', 'apac', 'latam'] },
    // engagement
    ...perWindow('logins', { type: 'window', event: 'login', agg: 'count' }),
    ...perWindow('sessions', { type: 'window', event: 'session', agg: 'count' }),
    ...perWindow('watch_seconds', { type: 'window', event: 'session', agg: 'sum', field: 'duration_seconds' }),
    ...perWindow('distinct_content', { type: 'window', event: 'session', agg: 'distinct', field: 'content_id' }, [30, 90]),
    { name: 'avg_session_seconds_30d', type: 'window', event: 'session', agg: 'mean', field: 'duration_seconds', windowDays: 30, missingIndicator: true },
    // trends: short window against longer ones, i.e. against the customer's own history
    { name: 'logins_7d_vs_30d', type: 'ratio', numerator: 'logins_7d', denominator: 'logins_30d', scale: 30 / 7, missingIndicator: true },
    { name: 'watch_7d_vs_30d', type: 'ratio', numerator: 'watch_seconds_7d', denominator: 'watch_seconds_30d', scale: 30 / 7, missingIndicator: true },
    { name: 'sessions_30d_vs_90d', type: 'ratio', numerator: 'sessions_30d', denominator: 'sessions_90d', scale: 3, missingIndicator: true },
    { name: 'logins_30d_change', type: 'difference', left: 'logins_30d', right: 'logins_90d', scaleRight: 1 / 3 },
    // recency
    { name: 'days_since_last_login', type: 'recency', event: 'login', missingIndicator: true },
    { name: 'days_since_last_session', type: 'recency', event: 'session', missingIndicator: true },
    { name: 'days_since_last_payment', type: 'recency', event: 'payment', where: { field: 'status', in: ['SUCCEEDED'] }, missingIndicator: true },
    { name: 'days_since_last_support', type: 'recency', event: 'support_ticket', missingIndicator: true },
    // money
    ...perWindow('payment_failures', { type: 'window', event: 'payment', agg: 'count', where: { field: 'status', in: ['FAILED'] } }, [30, 90]),
    { name: 'downgrades_90d', type: 'window', event: 'plan_change', agg: 'count', where: { field: 'change', in: ['DOWNGRADE'] }, windowDays: 90 },
    { name: 'upgrades_90d', type: 'window', event: 'plan_change', agg: 'count', where: { field: 'change', in: ['UPGRADE'] }, windowDays: 90 },
    { name: 'spend_cents_90d', type: 'window', event: 'payment', agg: 'sum', field: 'amount_cents', where: { field: 'status', in: ['SUCCEEDED'] }, windowDays: 90 },
    { name: 'discount_cents_90d', type: 'window', event: 'payment', agg: 'sum', field: 'discount_cents', windowDays: 90 },
    // support
    { name: 'tickets_30d', type: 'window', event: 'support_ticket', agg: 'count', windowDays: 30 },
    { name: 'complaints_90d', type: 'window', event: 'support_ticket', agg: 'count', where: { field: 'is_complaint', in: [true] }, windowDays: 90 },
    { name: 'satisfaction_90d', type: 'window', event: 'support_ticket', agg: 'mean', field: 'satisfaction', windowDays: 90, missingIndicator: true },
  ],
};
