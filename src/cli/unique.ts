// A short random suffix for names that must not collide between runs (replay consumer groups).
import { randomBytes } from 'node:crypto';

export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}
