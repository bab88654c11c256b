/** What a benchmark group receives and returns. */
import type { Config, GroupName, Mode } from '../config.js';
import type { Table } from './table.js';

export interface GroupContext {
  readonly mode: Mode;
  readonly config: Config;
  /** URL of the Redis every group uses (the suite's own redis-server, or REDIS_URL). */
  readonly redisUrl: string;
  /** Progress line on stderr (tables go to stdout). */
  log(message: string): void;
}

/** A bar pair for the chart: this library vs prom-client, ns per call. */
export interface ChartBar {
  readonly label: string;
  readonly lib: number;
  readonly peer: number;
}

export interface GroupResult {
  readonly group: GroupName;
  readonly tables: readonly Table[];
  /**
   * Named figures the targets are evaluated on (and anything else worth keeping). `null` when
   * the mode did not measure it (e.g. no 100,000-series round in smoke mode).
   */
  readonly figures: Readonly<Record<string, number | boolean | null>>;
  readonly chart?: readonly ChartBar[];
  /** Wall time of the group, ms. */
  readonly elapsedMs?: number;
}

export type Group = (context: GroupContext) => Promise<GroupResult>;
