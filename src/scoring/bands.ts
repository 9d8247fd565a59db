// Risk bands from the manifest: a score's band is the last band whose min_score is at or below it.
export function bandOf(score: number, bands: readonly { readonly name: string; readonly min_score: number }[]): string {
  let band = bands[0]!.name;
  for (const b of bands) if (score >= b.min_score) band = b.name;
  return band;
}
