// The `churnflow` command line: one file per command, wired here.
import { Command, CommanderError } from 'commander';
import { redactText } from '../config/redact-secrets.js';
import { ChurnflowError } from '../errors.js';
import { backtestCommand } from './backtest.js';
import { demoCommand } from './demo.js';
import { experimentCommand } from './experiment.js';
import { modelCommand } from './model.js';
import { trainCommand } from './train.js';
import { replayCommand } from './replay.js';
import { runCommand } from './run.js';
import { scoreAllCommand } from './score-all.js';
import { schemasCommand } from './schemas.js';
import { simulateCommand } from './simulate.js';
import { snapshotCommand } from './snapshot.js';

export function buildProgram(): Command {
  return new Command('churnflow')
    .description('real-time churn-risk scoring: Kafka/Avro in, event-time windows, ONNX models, risk events out')
    .version('0.1.0')
    .showHelpAfterError()
    .addCommand(demoCommand())
    .addCommand(runCommand())
    .addCommand(replayCommand())
    .addCommand(scoreAllCommand())
    .addCommand(simulateCommand())
    .addCommand(snapshotCommand())
    .addCommand(schemasCommand())
    .addCommand(backtestCommand())
    .addCommand(experimentCommand())
    .addCommand(modelCommand())
    .addCommand(trainCommand());
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    if (err instanceof ChurnflowError) {
      process.stderr.write(`churnflow: ${err.code}: ${redactText(err.message)}\n`);
      process.exit(2);
    }
    throw err;
  }
}
