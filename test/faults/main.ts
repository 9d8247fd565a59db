// `npm run test:faults` (via scripts/test-faults.sh, which starts the services): runs the fault
// harness, prints the two verdict lines and exits 1 when any risk event or customer state differs.
import { parseFaultOptions } from './fault-options.js';
import { runFaults } from './fault-run.js';
import { riskLine } from './compare-risk.js';
import { stateLine } from './compare-state.js';

const log = (line: string) => console.log(line);

try {
  const options = parseFaultOptions(process.argv.slice(2), process.env);
  // Past its deadline the run is abandoned; runFaults' own waits are bounded by the same deadline, this is the backstop.
  const backstop = setTimeout(() => {
    console.error(`[faults] the run exceeded ${Math.round(options.timeoutMs / 60_000)} min plus 10 min of grace: exiting`);
    process.exit(2);
  }, options.timeoutMs + 600_000);
  backstop.unref();
  const result = await runFaults(options, log);
  for (const a of result.anomalies) log(`[faults] anomaly: ${a}`);
  for (const e of [...result.risk.examples, ...result.state.examples]) log(e);
  log(`[faults] ${result.events} events; reference ${result.seconds.reference.toFixed(0)} s, fault run ${result.seconds.faultRun.toFixed(0)} s, total ${result.seconds.total.toFixed(0)} s`);
  log(riskLine(result.risk));
  log(stateLine(result.state));
  const failed = result.risk.missing + result.risk.extra + result.risk.different + result.state.mismatched > 0;
  process.exit(failed ? 1 : 0);
} catch (err) {
  console.error(`[faults] error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(2);
}
