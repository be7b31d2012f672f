/**
 * Reading checkpoints for the CLI without failing on a corrupt one: `status` shows an unreadable
 * checkpoint (naming its key) instead of failing, and a run's own pre-checks leave it to the
 * worker, whose state repair (`StateStore.repairState`) deletes it at the start of the run.
 */
import type { Checkpoint } from '../adapters/state-store.js';
import type { RedisSink } from '../redis/redis-sink.js';
import { parseCheckpoint } from '../redis/state-store.js';
import type { CliRedis } from './setup.js';

/** One checkpoint as read: sound, unreadable, or absent (`undefined`). */
export type CheckpointRead =
  | { readonly name: string; readonly key: string; readonly checkpoint: Checkpoint; readonly problem?: undefined }
  | { readonly name: string; readonly key: string; readonly checkpoint?: undefined; readonly problem: string };

/**
 * Reads the checkpoint `name` under `sink`'s prefix: `TYPE`, then `GET` when it is a string.
 *
 * @returns `undefined` when there is none; `{ problem }` when the key is not a string or its value
 *   is not a checkpoint's JSON (the same checks as the worker's state repair).
 * @throws {@link SinkError} when Redis fails (a failure to read is not an unreadable checkpoint).
 */
export async function readCheckpoint(redis: CliRedis['redis'], sink: RedisSink, name: string): Promise<CheckpointRead | undefined> {
  const key = sink.keys.checkpoint(name);
  const type = await redis.type(key);
  if (type === 'none') return undefined;
  if (type !== 'string') return { name, key, problem: `the key is a ${type}, not a string` };
  const json = await redis.get(key);
  if (json === null) return undefined;
  try {
    return { name, key, checkpoint: parseCheckpoint(key, json) };
  } catch (error) {
    return { name, key, problem: error instanceof Error ? error.message : String(error) };
  }
}

/** {@link readCheckpoint} of each name, absent ones left out. */
export async function readCheckpoints(redis: CliRedis['redis'], sink: RedisSink, names: readonly string[]): Promise<CheckpointRead[]> {
  const reads: CheckpointRead[] = [];
  for (const name of names) {
    const read = await readCheckpoint(redis, sink, name);
    if (read) reads.push(read);
  }
  return reads;
}
