// The backtest options the topology and browser tests share: a simulator period, the default spec,
// weekly observations after a 30-day warm-up, costs from the manifest, no pinned timestamp.
import type { BacktestRunOptions } from '../../src/cli/backtest.js';
import { resolveSimulatorOptions, type SimulatorOptions } from '../../src/simulator/index.js';

export function simulatorBacktest(sim: Partial<SimulatorOptions>): Omit<BacktestRunOptions, 'models' | 'outDir'> {
  return {
    source: { kind: 'simulator', options: resolveSimulatorOptions(sim) },
    spec: 'builtin:churn_default',
    allowedLatenessMs: 3_600_000,
    everyDays: 7,
    warmupDays: 30,
    from: null,
    to: null,
    costs: {},
    gridStep: 0.01,
    generatedAt: null,
  };
}
