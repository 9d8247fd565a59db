// `churnflow experiment`: churn per experiment arm after the risk events that assigned it, the
// difference with its confidence interval and p-value, and the customers the treatment saved.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Command } from 'commander';
import { readArmAssignments, readOutcomes } from '../backtest/experiment-inputs.js';
import { experimentReadout, type ExperimentReadout } from '../backtest/experiment-readout.js';
import { readoutText } from '../backtest/experiment-text.js';
import { toSnakeKeys } from '../backtest/report-json.js';
import { ChurnflowError } from '../errors.js';
import { buildEventDecoding } from '../compose/event-decoding.js';
import { buildSpec } from '../compose/feature-spec.js';
import { dateFlag, floatFlag, intFlag } from './common.js';
import { loadCommandConfig } from './command-config.js';

export const READOUT_FORMAT = 'churnflow.experiment-readout/v1';

export interface ExperimentRunOptions {
  readonly risk: string;
  readonly outcomes: string;
  /** Default: the feature spec's label horizon. */
  readonly horizonDays?: number;
  readonly treatment: string;
  readonly control: string;
  readonly confidence: number;
  /** Last instant the outcomes cover; default: the latest event time in the outcomes file. */
  readonly outcomesEnd?: number;
  /** Default: features.spec of the config. */
  readonly spec?: string;
  /** Config file: the input mapping (and declared kinds) the outcomes file is read with, features.spec. */
  readonly config?: string;
}

export interface ExperimentRunResult {
  readonly readout: ExperimentReadout;
  readonly inputs: {
    readonly riskEvents: number;
    readonly belowThreshold: number;
    readonly aboveThresholdWithoutArm: number;
    readonly customersAssigned: number;
    readonly outcomeEvents: number;
    readonly labelEvents: number;
    readonly invalidOutcomeLines: number;
  };
}

export async function runExperiment(o: ExperimentRunOptions): Promise<ExperimentRunResult> {
  if (o.treatment === o.control) throw new ChurnflowError('CF_INPUT_INVALID', `--treatment and --control are both '${o.treatment}'`);
  const config = loadCommandConfig(o);
  const spec = buildSpec(config, o.spec);
  const risk = await readArmAssignments(o.risk);
  const outcomes = await readOutcomes(buildEventDecoding(config, { kind: 'file', path: o.outcomes }), spec, new Set(risk.assignments.keys()));
  const readout = experimentReadout(risk.assignments.values(), outcomes.labelTimes, {
    horizonDays: o.horizonDays ?? spec.spec.label.horizonDays,
    treatmentArm: o.treatment,
    controlArm: o.control,
    confidence: o.confidence,
    dataEnd: o.outcomesEnd ?? outcomes.lastEventTime,
  });
  return {
    readout,
    inputs: {
      riskEvents: risk.riskEvents,
      belowThreshold: risk.belowThreshold,
      aboveThresholdWithoutArm: risk.withoutArm,
      customersAssigned: risk.assignments.size,
      outcomeEvents: outcomes.events,
      labelEvents: outcomes.labelEvents,
      invalidOutcomeLines: outcomes.invalid,
    },
  };
}

export function readoutJson(result: ExperimentRunResult): string {
  return `${JSON.stringify(toSnakeKeys({ format: READOUT_FORMAT, ...result.readout, inputs: result.inputs }), null, 2)}\n`;
}

interface ExperimentFlags {
  risk: string;
  outcomes: string;
  horizonDays?: number;
  treatment: string;
  control: string;
  confidence: number;
  outcomesEnd?: number;
  spec?: string;
  config?: string;
  out?: string;
}

export function experimentCommand(): Command {
  const cmd = new Command('experiment').description('read out a retention experiment: churn per arm, difference, confidence interval, p-value, customers saved');
  cmd
    .requiredOption('--risk <file>', 'risk events (NDJSON RiskEventRecord) with experiment_arm set')
    .requiredOption('--outcomes <file>', 'activity events after the risk events, the cancellations among them: NDJSON, CSV or Avro, in your own shape through the input mapping of --config')
    .option('-c, --config <file>', 'config: the input mapping and declared kinds the outcomes are read with, features.spec')
    .option('--horizon-days <n>', "days after assignment in which a cancellation counts (default: the spec's label horizon, 30)", intFlag('--horizon-days', 1, 365))
    .option('--treatment <arm>', 'name of the treatment arm', 'treatment')
    .option('--control <arm>', 'name of the control arm', 'control')
    .option('--confidence <level>', 'confidence level of the interval', floatFlag('--confidence', 0.5, 0.9999), 0.95)
    .option('--outcomes-end <date>', 'last time the outcomes cover (default: the latest event in --outcomes)', dateFlag)
    .option('--spec <ref>', "feature spec whose label defines churn: 'builtin:churn_default' or a JSON/YAML file (default: features.spec of the config)")
    .option('-o, --out <file>', 'also write the readout as JSON here');
  cmd.action(async (flags: ExperimentFlags) => {
    const result = await runExperiment({
      risk: flags.risk,
      outcomes: flags.outcomes,
      ...(flags.horizonDays !== undefined ? { horizonDays: flags.horizonDays } : {}),
      treatment: flags.treatment,
      control: flags.control,
      confidence: flags.confidence,
      ...(flags.outcomesEnd !== undefined ? { outcomesEnd: flags.outcomesEnd } : {}),
      ...(flags.spec !== undefined ? { spec: flags.spec } : {}),
      ...(flags.config !== undefined ? { config: flags.config } : {}),
    });
    process.stdout.write(readoutText(result.readout));
    const i = result.inputs;
    process.stderr.write(
      `experiment: ${i.riskEvents} risk events (${i.belowThreshold} below threshold, ${i.aboveThresholdWithoutArm} above it without an arm), ${i.customersAssigned} customers assigned; ` +
        `${i.outcomeEvents} outcome events, ${i.labelEvents} cancellations${i.invalidOutcomeLines > 0 ? `, ${i.invalidOutcomeLines} invalid lines skipped` : ''}\n`,
    );
    if (flags.out) {
      mkdirSync(dirname(flags.out), { recursive: true });
      writeFileSync(flags.out, readoutJson(result));
    }
  });
  return cmd;
}
