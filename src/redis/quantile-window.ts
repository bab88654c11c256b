/**
 * A summary's quantile window on the TypeScript side: the slot length and the window spec the
 * flush script's Q, R and W sections take. The slot rule itself lives in
 * src/redis/lua/include/window.lua; this is its mirror.
 */
import type { FamilyMeta } from '../core/family.js';
import type { Keys } from './keys.js';

/**
 * Length of one time slot of a summary's quantile window, in ms: `maxAgeSeconds / ageBuckets`,
 * rounded down to whole ms (at least 1,000: `ageBuckets <= maxAgeSeconds`). The one slot rule:
 * flushes send it in their window spec, scrapes cut the window by it (src/export/scan.ts);
 * test/integration/lua-contract.test.ts checks the two agree.
 */
export function quantileSlotMs(meta: Pick<FamilyMeta, 'maxAgeSeconds' | 'ageBuckets'>): number {
  return Math.floor(((meta.maxAgeSeconds ?? 600) * 1000) / (meta.ageBuckets ?? 5));
}

/**
 * The third argument of a flush section on a summary's quantile window (ops `Q`, `R`, `W` of
 * flush-4.lua): `<slot ms> <ageBuckets> <key base>`. The script picks the slot by the server's
 * clock, so processes with skewed clocks write the same slot.
 */
export function quantileSectionConfig(keys: Keys, meta: FamilyMeta): string {
  return `${quantileSlotMs(meta)} ${meta.ageBuckets ?? 5} ${keys.quantileWindow(meta.name)}`;
}
