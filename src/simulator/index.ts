// Public surface of the customer behaviour simulator (demo input, training data, tests).

export { simulate } from './simulate.js';
export {
  DEFAULT_SIMULATOR_OPTIONS,
  resolveSimulatorOptions,
  simulationEndTime,
  type DriftOptions,
  type SimulatorOptions,
} from './options.js';
export { BAD_RECORD_DEFECTS, recordToNdjson, type BadRecordDefect, type SimulatedRecord } from './records.js';
