// The fault run's loop: wait for each planned point while the engines consume, carry out the fault,
// log it; then let the engines catch up and stop them. Returns what a correct engine would not do.
import { groupProgress } from '../helpers/engine-process.js';
import { applyFault } from './apply-fault.js';
import type { EngineFleet } from './engine-fleet.js';
import type { PlannedFault } from './fault-schedule.js';
import { waitForOffsets } from './wait-for-offsets.js';

export interface FaultRunTarget {
  readonly groupId: string;
  readonly topic: string;
  /** Events in the topic. */
  readonly total: number;
  readonly deadline: number;
  readonly stallMs: number;
  /** Whether the topic is complete (it may be produced while the faults run); absent: it is. */
  readonly produced?: () => boolean;
}

export async function runUnderFaults(fleet: EngineFleet, plan: readonly PlannedFault[], t: FaultRunTarget, log: (line: string) => void): Promise<string[]> {
  const bounds = { deadline: t.deadline, stallMs: t.stallMs, supervise: () => fleet.supervise() };
  const anomalies: string[] = [];
  // Caught up counts only once the whole stream is out: while it is produced, engines keeping up are at its end all the time.
  const caughtUp = (p: { caughtUp: boolean }) => (t.produced?.() ?? true) && p.caughtUp;
  fleet.startMain();
  let committedAtLastFault = -1;
  for (const [i, fault] of plan.entries()) {
    // The planned point, at least one commit since the last fault, and every engine in the group:
    // the fault hits engines that consume, not ones still loading their model.
    // A run too short for its plan catches up first: the remaining faults then hit idle engines (logged).
    const target = Math.max(Math.ceil(fault.atShare * t.total), committedAtLastFault + 1);
    const at = await waitForOffsets(t.groupId, t.topic, (p) => p.committed >= target || caughtUp(p), bounds, `${Math.round(fault.atShare * 100)} % committed`);
    await fleet.joined(t.stallMs);
    await new Promise((r) => setTimeout(r, fault.jitterMs));
    fleet.supervise();
    const outcome = await applyFault(fault.kind, fleet, i);
    if (outcome.anomaly) anomalies.push(outcome.anomaly);
    committedAtLastFault = (await groupProgress(t.groupId, t.topic).catch(() => at)).committed;
    const idle = at.committed >= t.total ? ' (caught up already: the engines were idle)' : '';
    log(`[faults] ${i + 1}/${plan.length} at committed ${at.committed}/${t.total} (${((100 * at.committed) / t.total).toFixed(1)} %, +${fault.jitterMs} ms): ${outcome.description}${idle}`);
  }
  await waitForOffsets(t.groupId, t.topic, caughtUp, bounds, 'the fault run to catch up');
  // An engine restarted by the last fault may still be loading when the others have caught up; a
  // SIGTERM then lands before its signal handler exists and reads as a failed drain. The final stop
  // tests the drain of engines that run, so it waits until every engine has joined.
  await fleet.joined(t.stallMs);
  for (const which of fleet.hasSecond ? (['second', 'main'] as const) : (['main'] as const)) {
    const stop = await fleet.sigterm(which);
    if (stop.code !== 0) anomalies.push(`final SIGTERM of ${which}: exit ${stop.code}`);
  }
  return [...anomalies, ...fleet.unexpectedExits];
}
