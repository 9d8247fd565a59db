// Helpers shared by commands: number parsing with clear errors, simulator flags, the batch commands' logger.
import { InvalidArgumentError, type Command } from 'commander';
import type { ChurnflowConfig } from '../config/config-schema.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { resolveSimulatorOptions, type SimulatorOptions } from '../simulator/index.js';

export function intFlag(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}]`);
    return n;
  };
}

export function floatFlag(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}]`);
    return n;
  };
}

export function dateFlag(value: string): number {
  const t = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(t)) throw new InvalidArgumentError(`expected a date like 2025-01-01, got '${value}'`);
  return t;
}

export interface SimulatorFlags {
  customers: number;
  days: number;
  seed: number;
  start?: number;
  badRate?: number;
  lateRate?: number;
  lateMaxDelayMs?: number;
  driftFromDay?: number;
  driftLoginFactor?: number;
  driftSessionFactor?: number;
  driftNewPlan?: string;
}

export function addSimulatorFlags(cmd: Command, defaults: { customers: number; days: number; seed?: number }): Command {
  return cmd
    .option('--customers <n>', 'simulated customers', intFlag('--customers', 1, 1_000_000), defaults.customers)
    .option('--days <n>', 'simulated days', intFlag('--days', 1, 3650), defaults.days)
    .option('--seed <n>', 'random seed (same seed, same data)', intFlag('--seed', 0, 2 ** 31 - 1), defaults.seed ?? 7)
    .option('--start <date>', 'first simulated day (UTC)', dateFlag)
    .option('--bad-rate <share>', 'inject this share of defective records (dead-letter path)', floatFlag('--bad-rate', 0, 1))
    .option('--late-rate <share>', 'share of events that arrive late (out of order)', floatFlag('--late-rate', 0, 1))
    .option('--late-max-delay-ms <ms>', 'longest arrival delay of late events', intFlag('--late-max-delay-ms', 1, 30 * 86_400_000), 3 * 3_600_000)
    .option('--drift-from-day <day>', 'inject drift from this simulated day', intFlag('--drift-from-day', 0, 3650))
    .option('--drift-login-factor <f>', 'with drift: multiply login rates by f', floatFlag('--drift-login-factor', 0, 10))
    .option('--drift-session-factor <f>', 'with drift: multiply sessions per login by f', floatFlag('--drift-session-factor', 0, 10))
    .option('--drift-new-plan <name>', 'with drift: a new plan category appears');
}

export function simulatorOptionsFrom(flags: SimulatorFlags): SimulatorOptions {
  const partial: Partial<SimulatorOptions> = { customers: flags.customers, days: flags.days, seed: flags.seed };
  if (flags.start !== undefined) partial.startTime = flags.start;
  if (flags.badRate !== undefined && flags.badRate > 0) partial.badRecords = { rate: flags.badRate };
  if (flags.lateRate !== undefined && flags.lateRate > 0) partial.lateEvents = { rate: flags.lateRate, maxDelayMs: flags.lateMaxDelayMs ?? 3 * 3_600_000 };
  if (flags.driftFromDay !== undefined) {
    partial.drift = {
      fromDay: flags.driftFromDay,
      ...(flags.driftLoginFactor !== undefined ? { loginFactor: flags.driftLoginFactor } : { loginFactor: 0.5 }),
      ...(flags.driftSessionFactor !== undefined ? { sessionFactor: flags.driftSessionFactor } : {}),
      ...(flags.driftNewPlan !== undefined ? { newPlan: flags.driftNewPlan } : {}),
    };
  }
  return resolveSimulatorOptions(partial);
}

/** Says when the state budget cut customers' history (their oldest days folded into the archive); empty otherwise. */
export function budgetLine(cuts: number): string {
  return cuts > 0 ? `, ${cuts} state cuts to state.maxBytesPerCustomer` : '';
}

/**
 * The logger of a command that prints its own progress and summary (demo, replay, score-all): the
 * configured level, except that the default 'info' becomes 'warn' so log lines do not bury the output.
 */
export function commandLogger(config: Readonly<ChurnflowConfig>, name?: string): Logger {
  return createLogger({ level: config.log.level === 'info' ? 'warn' : config.log.level, ...(name ? { name } : {}) });
}
