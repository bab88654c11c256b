/**
 * The flusher's contract with its registry: the settings it reads, what it needs from the
 * registry (`FlusherHost`), and the counters it keeps about itself (`FlushStats`, declared in core/registry-api.ts).
 */
import type { DeltaBuffer } from '../buffer/delta-buffer.js';
import type { SeriesStore } from '../buffer/series-store.js';
import type { Keys } from '../redis/keys.js';
import type { RedisClient } from '../redis/connection.js';
import type { FlushStats } from '../core/registry-api.js';
import type { FlushObserver } from './observer.js';

export type { FlushStats };

/** Wait for replicas after each flush (see RegistryOptions.durability). */
export interface Durability {
  readonly replicas: number;
  readonly timeoutMs: number;
  /** How long acknowledged batches are kept, to send again after a failover lost them. */
  readonly replayWindowMs: number;
}

/**
 * The resolved options the flusher reads (see RegistryOptions for their meaning and defaults).
 * `ResolvedOptions` (src/options.ts) extends it: these fields are stated once, here, because the
 * flush layer may not import the files at src/'s root.
 */
export interface FlusherSettings {
  readonly flushIntervalMs: number;
  readonly flushTimeoutMs: number;
  readonly expireSeconds: number;
  readonly tokenTtlSeconds: number;
  readonly maxBackoffMs: number;
  readonly durability: Durability | undefined;
  readonly shardBy: 'registry' | 'metric';
  readonly flushChunkUpdates: number;
  readonly flushWindow: number;
}

/** What the flusher needs from its registry. */
export interface FlusherHost {
  readonly keys: Keys;
  readonly processId: string;
  readonly buffer: DeltaBuffer<SeriesStore>;
  readonly settings: FlusherSettings;
  redis(): RedisClient | undefined;
  stores(): readonly SeriesStore[];
  report(error: Error): void;
  /** Run the `collect` callbacks (before a flush takes the buffer); they report their own errors. */
  collect(): Promise<void>;
  /** Whether there are `collect` callbacks: then every interval flushes, to run them. */
  collects(): boolean;
  /** The library's own metrics, if enabled. */
  readonly selfMetrics?: FlushObserver | undefined;
}
