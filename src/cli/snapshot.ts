// `churnflow snapshot`: replays history (a file, or the simulator) through the same feature code as
// the stream and writes a point-in-time-correct training set (Parquet + .meta.json), streaming rows
// to disk in row groups; observations on a grid or exactly the rows of a labels file.
import { Command } from 'commander';
import { lastValueFrom } from 'rxjs';
import { trainingSnapshotTopology, type SnapshotStats } from '../../topologies/training-snapshot.topology.js';
import { loadConfig } from '../config/load-config.js';
import { validationRules } from '../config/validation-rules.js';
import { loadFeatureSpec } from '../features/load-spec.js';
import { decoderFor, finishDecoding } from '../serde/decoder-for.js';
import { createFileSink } from '../sinks/file-sink.js';
import { ParquetSnapshotWriter, metaPathFor } from '../sinks/parquet-snapshot-writer.js';
import { readLabelFile } from '../sources/label-file.js';
import { simulationEndTime } from '../simulator/index.js';
import { openFileInput } from '../sources/file-input.js';
import { createSimulatorSource } from '../sources/simulator-source.js';
import { MemoryStateStore } from '../state/memory-store.js';
import { fixedClock, systemClock } from '../time/clock.js';
import { addSimulatorFlags, dateFlag, intFlag, simulatorOptionsFrom, type SimulatorFlags } from './common.js';
import { startProgress } from './progress.js';

interface SnapshotFlags extends SimulatorFlags {
  input?: string;
  config?: string;
  out: string;
  spec: string;
  everyDays: number;
  warmupDays: number;
  allowedLatenessMs: number;
  now?: number;
  deadLetters?: string;
  labels?: string;
}

export function snapshotCommand(): Command {
  const cmd = new Command('snapshot').description('build a point-in-time training set from history (file or simulator) as Parquet');
  cmd
    .option('-i, --input <file>', 'history to replay (.ndjson, .csv or .avro); without it, the simulator generates it')
    .option('-c, --config <file>', 'config: input mappings and declared kinds for the file, validation limits')
    .option('-o, --out <file>', 'output Parquet file (a .meta.json is written beside it)', 'out/snapshot.parquet')
    .option('--spec <ref>', "feature spec: 'builtin:churn_default' or a JSON/YAML file", 'builtin:churn_default')
    .option('--every-days <n>', 'days between observation times', intFlag('--every-days', 1, 365), 7)
    .option('--warmup-days <n>', 'days of history before the first observation', intFlag('--warmup-days', 0, 3650), 30)
    .option('--allowed-lateness-ms <ms>', 'event-time allowed lateness', intFlag('--allowed-lateness-ms', 0, 86_400_000), 3_600_000)
    .option('--now <date>', "reference 'now' for future-timestamp checks (default: end of the simulated period, or the wall clock)", dateFlag)
    .option('--dead-letters <file>', 'write refused records here (NDJSON)')
    .option('--labels <file>', 'write exactly the rows of this labels file (CSV or NDJSON: customer_id, observation_time, label, optional group) instead of the --every-days grid');
  addSimulatorFlags(cmd, { customers: 3000, days: 180 });
  cmd.action(async (flags: SnapshotFlags) => {
    const config = loadConfig(flags.config ? { file: flags.config } : {});
    const spec = loadFeatureSpec(flags.spec, { allowedLatenessMs: flags.allowedLatenessMs });
    const sim = flags.input ? undefined : simulatorOptionsFrom(flags);
    const clock = flags.now !== undefined ? fixedClock(flags.now) : sim ? fixedClock(simulationEndTime(sim)) : systemClock;
    const { source, decoder } = flags.input ? openFileInput(config.input, flags.input, clock) : { source: createSimulatorSource(sim!, clock), decoder: decoderFor(config.input, { kind: 'simulator' }) };
    const store = new MemoryStateStore({ layout: spec.layout });
    const deadLetters = flags.deadLetters ? createFileSink<never>(flags.deadLetters, 'dead-letter') : undefined;
    const labels = flags.labels ? readLabelFile(flags.labels) : undefined;
    const writer = new ParquetSnapshotWriter(flags.out, spec, { groups: labels ? [...labels.byDay.values()].some((l) => l.some((o) => o.group !== null)) : false });
    const started = performance.now();
    let live: Readonly<SnapshotStats> | undefined;
    const progress = startProgress('snapshot', {
      records: () => live?.records ?? 0,
      fraction: () => {
        const p = source.progress?.();
        return p && p.total > 0 ? p.done / p.total : undefined;
      },
      detail: () => `${writer.rows.toLocaleString('en-US')} rows written`,
    });
    let result;
    try {
      result = await lastValueFrom(
        trainingSnapshotTopology(
          { source, decoder, rules: validationRules(config), store, spec, clock, rows: writer, ...(deadLetters ? { deadLetters } : {}) },
          {
            allowedLatenessMs: flags.allowedLatenessMs,
            batch: { maxSize: 1024, maxWaitMs: 20 },
            maxInFlight: 4096,
            schedule: labels ? { labels } : { everyDays: flags.everyDays, warmupDays: flags.warmupDays },
            onProgress: (stats) => {
              live = stats;
            },
          },
        ),
      );
      finishDecoding(decoder);
    } catch (err) {
      writer.abort();
      throw err;
    } finally {
      progress.stop();
      await deadLetters?.close();
    }
    const { stats } = result;
    const obs = stats.observations;
    const dropped: Record<string, number> = labels
      ? { listed_without_label: stats.labelsWithoutLabel }
      : { horizon_past_data_end: stats.unlabelledRows, missing_signup: stats.withoutSignup };
    const written = writer.close({
      observation: labels
        ? { labels_file: flags.labels, listed_rows: labels.rows, observation_days: obs.length, first: obs[0] ?? null, last: obs[obs.length - 1] ?? null }
        : { every_days: flags.everyDays, warmup_days: flags.warmupDays, first: obs[0] ?? null, last: obs[obs.length - 1] ?? null },
      source: sim ? { kind: 'simulator', ...sim } : { kind: 'file', path: flags.input },
      dropped,
      ...(labels ? { label: { definition: `from the labels file ${flags.labels}`, horizon_days: spec.spec.label.horizonDays } } : {}),
    });
    const secs = (performance.now() - started) / 1000;
    const lines = [
      `snapshot: ${written.rows} rows (${written.positives} positive, ${((100 * written.positives) / Math.max(1, written.rows)).toFixed(1)}%) × ${spec.columns.length} features → ${flags.out} (+ ${metaPathFor(flags.out)})`,
      `  ${stats.records} records in ${secs.toFixed(1)} s: ${stats.accepted} applied, ${stats.deadLetters} dead-lettered, ${stats.late} late, ${stats.beforeSignup} before signup`,
    ];
    if (labels) {
      lines.push(
        `  ${labels.rows} rows listed on ${obs.length} observation days; ${stats.labelsWithoutLabel} without a label (not written)`,
        `  written anyway and counted: ${stats.labelsWithoutHistory} rows of customers with no event before the observation, ${stats.labelsBeforeSignup} observed before signup`,
      );
    } else {
      lines.push(
        `  ${obs.length} observation times; not written: ${stats.unlabelledRows} rows whose ${spec.spec.label.horizonDays}-day horizon runs past the data, ${stats.withoutSignup} customer observations without a signup value`,
      );
    }
    lines.push(`  feature spec ${spec.spec.name} ${spec.hash}`);
    process.stderr.write(lines.join('\n') + '\n');
  });
  return cmd;
}
