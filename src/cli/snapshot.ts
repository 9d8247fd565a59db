// `churnflow snapshot`: replays history (a file, or the simulator) through the same feature code as
// the stream and writes a point-in-time-correct training set (Parquet + .meta.json), streaming rows
// to disk in row groups; observations on a grid or exactly the rows of a labels file.
import { Command } from 'commander';
import { lastValueFrom } from 'rxjs';
import { trainingSnapshotTopology, type SnapshotStats } from '../../topologies/training-snapshot.topology.js';
import { buildSpec } from '../compose/feature-spec.js';
import { buildOfflineReplay } from '../compose/offline-replay.js';
import { createFileSink } from '../sinks/file-sink.js';
import { ParquetSnapshotWriter, metaPathFor } from '../sinks/parquet-snapshot-writer.js';
import { readLabelFile } from '../sources/label-file.js';
import { addSimulatorFlags, budgetLine, dateFlag, intFlag, simulatorOptionsFrom, type SimulatorFlags } from './common.js';
import { loadCommandConfig } from './command-config.js';
import { startProgress } from './progress.js';

interface SnapshotFlags extends SimulatorFlags {
  input?: string;
  config?: string;
  out: string;
  spec?: string;
  everyDays: number;
  warmupDays: number;
  allowedLatenessMs?: number;
  now?: number;
  deadLetters?: string;
  labels?: string;
}

export function snapshotCommand(): Command {
  const cmd = new Command('snapshot').description('build a point-in-time training set from history (file or simulator) as Parquet');
  cmd
    .option('-i, --input <file>', 'history to replay (.ndjson, .csv or .avro); without it, the simulator generates it')
    .option('-c, --config <file>', 'config: input mappings and declared kinds for the file, validation limits, event time (engine.allowedLatenessMs, engine.watermark), state budget, features.spec')
    .option('-o, --out <file>', 'output Parquet file (a .meta.json is written beside it)', 'out/snapshot.parquet')
    .option('--spec <ref>', "feature spec: 'builtin:churn_default' or a JSON/YAML file (default: features.spec of the config)")
    .option('--every-days <n>', 'days between observation times', intFlag('--every-days', 1, 365), 7)
    .option('--warmup-days <n>', 'days of history before the first observation', intFlag('--warmup-days', 0, 3650), 30)
    .option('--allowed-lateness-ms <ms>', 'event-time allowed lateness (overrides engine.allowedLatenessMs; default 3600000)', intFlag('--allowed-lateness-ms', 0, 86_400_000))
    .option('--now <date>', "reference 'now' for future-timestamp checks (default: end of the simulated period, or the wall clock)", dateFlag)
    .option('--dead-letters <file>', 'write refused records here (NDJSON)')
    .option('--labels <file>', 'write exactly the rows of this labels file (CSV or NDJSON: customer_id, observation_time, label, optional group) instead of the --every-days grid');
  addSimulatorFlags(cmd, { customers: 3000, days: 180 });
  cmd.action(async (flags: SnapshotFlags) => {
    const config = loadCommandConfig(flags);
    const spec = buildSpec(config, flags.spec);
    const sim = flags.input ? undefined : simulatorOptionsFrom(flags);
    const replay = buildOfflineReplay(config, spec, sim ? { kind: 'simulator', options: sim } : { kind: 'file', path: flags.input! }, flags.now !== undefined ? { now: flags.now } : {});
    const { source } = replay;
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
          { ...replay.edges, rows: writer, ...(deadLetters ? { deadLetters } : {}) },
          {
            allowedLatenessMs: replay.policy.allowedLatenessMs,
            batch: { maxSize: 1024, maxWaitMs: 20 },
            maxInFlight: 4096,
            schedule: labels ? { labels } : { everyDays: flags.everyDays, warmupDays: flags.warmupDays },
            onProgress: (stats) => {
              live = stats;
            },
          },
        ),
      );
      replay.finish();
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
      `  ${stats.records} records in ${secs.toFixed(1)} s: ${stats.accepted} applied, ${stats.deadLetters} dead-lettered, ${stats.late} late, ${stats.beforeSignup} before signup${budgetLine(replay.budgetCuts())}`,
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
