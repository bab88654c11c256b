/** Label sets and values shared by the groups, so both libraries record exactly the same series. */

export const LABEL_NAMES = ['route', 'method', 'status'] as const;
export type BenchLabels = Record<(typeof LABEL_NAMES)[number], string>;

const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];

/** The i-th of many distinct label sets (64 per route), e.g. for 100,000 series. */
export function labelSet(i: number): BenchLabels {
  return {
    route: `/api/v1/resource/${i >> 6}`,
    method: METHODS[i & 3]!,
    status: String(200 + ((i >> 2) & 15)),
  };
}

/** The series key as both libraries print it (`route="…",method="…",status="…"`). */
export function renderedKey(labels: BenchLabels): string {
  return `route="${labels.route}",method="${labels.method}",status="${labels.status}"`;
}

/** Histogram buckets of the flush group: 10 bounds (plus +Inf). */
export const TEN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Three observations that land in three different buckets (of TEN_BUCKETS and of the default
 * buckets), so a dirty histogram series writes its sum and three bucket counts.
 */
export const THREE_OBSERVATIONS = [0.003, 0.07, 0.8];
