/** The library version; script names carry it so two versions sharing a Redis never mix scripts. */
export const VERSION = '0.1.0';

/**
 * Version of the Redis data layout. Stored with every family's metadata; a reader or writer
 * that finds another layout version reports a conflict instead of misreading the data.
 */
export const LAYOUT_VERSION = 1;
