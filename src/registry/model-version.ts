// Model versions are semantic versions, ordered by the `semver` package (the same rules npm uses)
// rather than by code of our own. A version is also a directory name in the registry, so only the
// canonical form is accepted: no leading "v" or "=", no spaces, nothing semver would rewrite.
import semver from 'semver';

/** True when `version` is a semantic version written exactly as semver formats it (build metadata included). */
export function isModelVersion(version: string): boolean {
  const parsed = semver.parse(version);
  if (parsed === null) return false;
  const build = parsed.build.length > 0 ? `+${parsed.build.join('.')}` : '';
  return `${parsed.version}${build}` === version;
}

/**
 * Semantic-version order: numeric parts, pre-releases before their release, then build metadata
 * (none first) so that sorting is total and stable. Strings that are not versions sort after every
 * version, by text, so a listing never throws on a stray directory or alias value.
 */
export function compareModelVersions(a: string, b: string): number {
  const va = isModelVersion(a);
  const vb = isModelVersion(b);
  if (va && vb) return semver.compareBuild(a, b);
  if (va !== vb) return va ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
