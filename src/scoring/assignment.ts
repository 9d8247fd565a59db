// Stable assignment of customers by hashing their id with a salt: canary routing and experiment
// arms. The same customer lands in the same group on every instance, every batch and every restart;
// changing the salt reshuffles everyone (a new experiment), changing the share moves only the
// customers at the margin.
import { createHash } from 'node:crypto';

/** A number in [0, 1) from sha256(salt, customer id): uniform, independent across salts. */
export function stableUnit(customerId: string, salt: string): number {
  const h = createHash('sha256').update(salt).update('\u0000').update(customerId).digest();
  // 48 bits are plenty for shares and exact in a double.
  return h.readUIntBE(0, 6) / 2 ** 48;
}

export function inShare(customerId: string, salt: string, share: number): boolean {
  return share > 0 && stableUnit(customerId, salt) < share;
}

export type ExperimentArm = 'treatment' | 'control';

export function experimentArm(customerId: string, salt: string, treatmentShare: number): ExperimentArm {
  return stableUnit(customerId, salt) < treatmentShare ? 'treatment' : 'control';
}
