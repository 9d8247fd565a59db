// Prints the CDNOW figures (churnflow's model beside the baseline, and the backtest's own ROC-AUC of
// the same held-out rows as a cross-check) and fails unless the model beats the baseline on both.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const out = process.argv[2];
const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
const report = JSON.parse(readFileSync(join(out, 'backtest', 'report.json'), 'utf8'));
const bt = report.models[0];
m.backtest_roc_auc = bt.roc_auc;
m.backtest_pr_auc = bt.pr_auc;
writeFileSync(join(out, 'metrics.json'), `${JSON.stringify(m, null, 2)}\n`);
const f = (x) => x.toFixed(4);
console.log(`CDNOW: ${m.validation_rows} held-out rows of ${m.validation_customers} customers (${(100 * m.validation_positive_rate).toFixed(1)}% churn)`);
console.log('| model | ROC-AUC | PR-AUC |');
console.log('|---|---|---|');
console.log(`| churnflow (${m.model}) | ${f(m.roc_auc)} | ${f(m.pr_auc)} |`);
console.log(`| baseline: ${m.baseline} | ${f(m.baseline_roc_auc)} | ${f(m.baseline_pr_auc)} |`);
console.log(`| churnflow backtest of the same rows (TypeScript engine, onnxruntime-node) | ${f(bt.roc_auc)} | ${f(bt.pr_auc)} |`);
console.log(`→ ${join(out, 'metrics.json')}`);
if (Math.abs(bt.roc_auc - m.roc_auc) > 1e-4) {
  console.error(`the backtest's ROC-AUC ${bt.roc_auc} differs from the trainer's ${m.roc_auc} on the same rows`);
  process.exit(1);
}
if (!(m.roc_auc > m.baseline_roc_auc && m.pr_auc > m.baseline_pr_auc)) {
  console.error('churnflow does not beat the baseline');
  process.exit(1);
}
