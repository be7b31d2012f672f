/**
 * Small value checks and codecs shared by the Redis sink and state store: option ranges, epoch
 * instants, fences, JSON in and out of Redis strings.
 */
import type { FenceOptions } from '../adapters/state-store.js';
import { ConfigError, InvalidInputError, SinkError } from '../errors.js';
import { shownValue } from '../internal/shown-value.js';

/** The message of an unknown thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * An integer option in `[min, max]`, or `fallback` when undefined.
 * @throws {@link ConfigError} naming the option otherwise.
 */
export function checkInteger(option: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(option, `${option} must be an integer from ${min} to ${max}, got ${shownValue(value)}`);
  }
  return value;
}

/**
 * Throws {@link ConfigError} for an option key not in `known` (a typo).
 */
export function checkOptionKeys(what: string, options: object | undefined, known: readonly string[]): void {
  for (const key of Object.keys(options ?? {})) {
    if (!known.includes(key)) throw new ConfigError(key, `Unknown ${what} option \`${key}\` (expected ${known.join(', ')})`);
  }
}

/** A decimal string read from Redis as a finite number; `undefined` for a missing or non-numeric value. */
export function parseNumber(value: unknown): number | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** Whether a value is a non-array object. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON for a report (dead letters, error messages): never throws. */
export function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return JSON.stringify(String(value));
  }
}

/**
 * The fence of fenced-write options, checked.
 * @throws {@link InvalidInputError} for a fence that is not a non-negative integer.
 */
export function checkFence(options: FenceOptions | undefined): number | undefined {
  const fence = options?.fence;
  if (fence === undefined) return undefined;
  if (!Number.isSafeInteger(fence) || fence < 0) {
    throw new InvalidInputError(`fence must be a non-negative integer, got ${String(fence)}`);
  }
  return fence;
}

/**
 * An epoch-millisecond instant, checked.
 * @throws {@link InvalidInputError} for a value that is not a safe integer.
 */
export function checkInstant(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new InvalidInputError(`${what} must be an integer number of epoch milliseconds, got ${String(value)}`);
  }
  return value;
}

/**
 * `JSON.stringify(value)`.
 * @throws {@link InvalidInputError} when the value cannot be encoded (cycle, BigInt, undefined).
 */
export function encodeJson(what: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidInputError(`${what} cannot be encoded as JSON: ${errorMessage(error)}`);
  }
  if (json === undefined) throw new InvalidInputError(`${what} cannot be encoded as JSON`);
  return json;
}

/**
 * A JSON object read from Redis.
 * @throws {@link SinkError} when the text is not JSON or not an object.
 */
export function decodeJsonObject(where: string, json: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new SinkError(`The value of ${where} is not valid JSON`, { cause: error });
  }
  if (!isPlainObject(value)) throw new SinkError(`The value of ${where} is not a JSON object`);
  return value;
}
