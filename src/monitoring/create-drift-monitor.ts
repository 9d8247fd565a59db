// The drift monitor as an engine runs it: the spec's columns, the model's reference, the config's
// options (the label horizon defaulting to the spec's), gauges on the engine's registry.
import type { ChurnflowConfig } from '../config/config-schema.js';
import type { CompiledSpec } from '../features/compile-spec.js';
import type { EngineMetrics } from '../observability/metrics.js';
import type { ModelManifest } from '../scoring/manifest.js';
import { DriftMonitor } from './drift-monitor.js';
import { registerMonitoringMetrics } from './monitoring-metrics.js';

export function createDriftMonitor(config: Readonly<ChurnflowConfig>, spec: CompiledSpec, manifest: ModelManifest, metrics: EngineMetrics): DriftMonitor {
  return new DriftMonitor(spec.columns, manifest, { horizonDays: spec.spec.label.horizonDays, ...config.monitoring.options }, registerMonitoringMetrics(metrics.registry));
}
