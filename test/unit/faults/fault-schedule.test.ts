// The fault plan: every requested fault once, spread over the window, joins before their leaves, same seed same plan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { faultOptions, parseFaultOptions } from '../../faults/fault-options.js';
import { planFaults } from '../../faults/fault-schedule.js';

const counts = { kills: 20, sigterms: 3, redisRestarts: 2, brokerRestarts: 2, rebalances: 2, failovers: 0 };

test('each fault once, in increasing order over the window, one per slot', () => {
  const plan = planFaults(counts, 42, { from: 0.1, to: 0.9 });
  assert.equal(plan.length, 31);
  const tally = Object.fromEntries(['kill', 'sigterm', 'redis-restart', 'broker-restart', 'join', 'leave'].map((k) => [k, plan.filter((p) => p.kind === k).length]));
  assert.deepEqual(tally, { kill: 20, sigterm: 3, 'redis-restart': 2, 'broker-restart': 2, join: 2, leave: 2 });
  const slot = 0.8 / 31;
  plan.forEach((p, i) => {
    assert.ok(p.atShare >= 0.1 + slot * i && p.atShare < 0.1 + slot * (i + 1), `fault ${i} at ${p.atShare}`);
    assert.ok(p.jitterMs >= 0 && p.jitterMs < 500);
  });
});

test('joins and leaves alternate, starting with a join, for any seed', () => {
  for (let seed = 0; seed < 200; seed++) {
    const seq = planFaults(counts, seed).filter((p) => p.kind === 'join' || p.kind === 'leave').map((p) => p.kind);
    assert.deepEqual(seq, ['join', 'leave', 'join', 'leave'], `seed ${seed}`);
  }
});

test('the seed decides the plan', () => {
  assert.deepEqual(planFaults(counts, 7), planFaults(counts, 7));
  assert.notDeepEqual(planFaults(counts, 7), planFaults(counts, 8));
});

test('options: full and small sizes meet the proof minimums; flags beat env; a bad value names its flag', () => {
  const full = faultOptions('full');
  assert.ok(full.events >= 300_000 && full.partitions >= 3 && full.kills >= 20 && full.redisRestarts >= 2 && full.brokerRestarts >= 2 && full.rebalances >= 2 && full.sigterms >= 3);
  const small = parseFaultOptions(['--small', '--seed', '9'], { CHURNFLOW_FAULTS_KILLS: '6', CHURNFLOW_FAULTS_SEED: '3' });
  assert.deepEqual({ events: small.events, kills: small.kills, seed: small.seed, redis: small.redisRestarts, broker: small.brokerRestarts, rebalances: small.rebalances, sigterms: small.sigterms }, { events: 50_000, kills: 6, seed: 9, redis: 1, broker: 1, rebalances: 1, sigterms: 1 });
  assert.throws(() => parseFaultOptions(['--kills=-1'], {}), /--kills must be an integer in \[0, 1000\], got '-1'/);
  assert.throws(() => parseFaultOptions([], { CHURNFLOW_FAULTS_EVENTS: 'many' }), /CHURNFLOW_FAULTS_EVENTS must be an integer/);
  assert.throws(() => parseFaultOptions(['--kils', '3'], {}), /kils/);
  // The fault run's copy of the stream is produced live by default (faults then land mid-stream on any machine).
  assert.ok(full.paceMs > 0 && small.paceMs > 0);
  assert.equal(parseFaultOptions(['--pace-s', '0'], { CHURNFLOW_FAULTS_PACE_S: '30' }).paceMs, 0);
  assert.equal(parseFaultOptions([], { CHURNFLOW_FAULTS_PACE_S: '30' }).paceMs, 30_000);
});

test('cluster store: failovers are planned like any fault; failovers need the cluster, Redis restarts the standalone store', () => {
  const plan = planFaults({ ...counts, redisRestarts: 0, failovers: 3 }, 5);
  assert.equal(plan.filter((p) => p.kind === 'cluster-failover').length, 3);
  assert.equal(plan.filter((p) => p.kind === 'redis-restart').length, 0);
  const cluster = parseFaultOptions(['--small', '--store', 'cluster', '--failovers', '2', '--redis-restarts', '0'], {});
  assert.deepEqual({ store: cluster.store, failovers: cluster.failovers, redis: cluster.redisRestarts }, { store: 'cluster', failovers: 2, redis: 0 });
  assert.equal(parseFaultOptions(['--small', '--redis-restarts', '0'], { CHURNFLOW_FAULTS_STORE: 'cluster', CHURNFLOW_FAULTS_FAILOVERS: '1' }).failovers, 1);
  assert.throws(() => parseFaultOptions(['--failovers', '1'], {}), /--failovers needs --store cluster/);
  assert.throws(() => parseFaultOptions(['--small', '--store', 'cluster'], {}), /with --store cluster use --failovers/);
  assert.throws(() => parseFaultOptions(['--store', 'memory'], {}), /--store must be redis or cluster, got 'memory'/);
});
