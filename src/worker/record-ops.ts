/**
 * The core's side of the record-sink contract: the optional extras used when a sink declares them,
 * and their fallbacks on the required methods otherwise; the sweep's "held but not seen" scan over
 * a sink and a state store; capability checks.
 */
import type { EventUpsertResult, RecordSink, StampComparison, UpsertResult } from '../adapters/sink.js';
import type { RecordStamp, SourceRecord } from '../adapters/source.js';
import type { EventMeta, StateStore } from '../adapters/state-store.js';
import { ConfigError } from '../errors.js';

/** The methods every record sink must have. */
export const REQUIRED_SINK_METHODS = ['ping', 'upsertRecords', 'removeRecords', 'countRecords', 'scanRecordIds', 'readStamps', 'getRecord'] as const;
/** The methods every state store must have. */
export const REQUIRED_STATE_METHODS = [
  'ping',
  'noteWrites',
  'markSeen',
  'filterUnseen',
  'countSeen',
  'releaseScope',
  'saveEvents',
  'listEventIds',
  'getEventStates',
  'setEventMeta',
  'getSyncMeta',
  'setSyncMeta',
  'advanceWatermark',
  'getCheckpoint',
  'setCheckpoint',
  'clearCheckpoint',
  'deadLetter',
] as const;
const OPTIONAL_BY_CAPABILITY = { compareStamps: 'compareStamps', locateRecord: 'locateRecord' } as const;

function missing(value: object, methods: readonly string[]): string[] {
  return methods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
}

/**
 * Checks a record sink against the contract: required methods present, `capabilities` declared,
 * and every capability set to `true` backed by its method.
 * @throws {@link ConfigError} (option `sink`) naming what is missing.
 */
export function checkRecordSink(sink: unknown): asserts sink is RecordSink {
  if (typeof sink !== 'object' || sink === null) throw new ConfigError('sink', 'Expected `sink` to be a record sink (see RecordSink)');
  const lacking = missing(sink, REQUIRED_SINK_METHODS);
  if (lacking.length > 0) throw new ConfigError('sink', `Expected \`sink\` to implement RecordSink: missing ${lacking.join(', ')}`);
  const capabilities = (sink as { capabilities?: unknown }).capabilities;
  if (typeof capabilities !== 'object' || capabilities === null) {
    throw new ConfigError('sink', 'Expected `sink.capabilities` to declare { compareStamps, locateRecord, exactRoundTrip }');
  }
  for (const [flag, method] of Object.entries(OPTIONAL_BY_CAPABILITY)) {
    if ((capabilities as Record<string, unknown>)[flag] === true && missing(sink, [method]).length > 0) {
      throw new ConfigError('sink', `\`sink.capabilities.${flag}\` is true but the sink has no ${method}() method`);
    }
  }
}

/**
 * Checks a state store against the contract (required methods; the three lease methods all or none).
 * @throws {@link ConfigError} (option `state`) naming what is missing.
 */
export function checkStateStore(state: unknown): asserts state is StateStore {
  if (typeof state !== 'object' || state === null) throw new ConfigError('state', 'Expected `state` to be a state store (see StateStore)');
  const lacking = missing(state, REQUIRED_STATE_METHODS);
  if (lacking.length > 0) throw new ConfigError('state', `Expected \`state\` to implement StateStore: missing ${lacking.join(', ')}`);
  const lease = missing(state, ['acquireLease', 'renewLease', 'releaseLease']);
  if (lease.length > 0 && lease.length < 3) throw new ConfigError('state', `Expected \`state\` to implement all lease methods or none: missing ${lease.join(', ')}`);
}

/**
 * Compares source stamps with what the sink holds: the sink's `compareStamps` when it declares it
 * (one round trip), else one `readStamps` per event (concurrently).
 * @returns missing and stale stamps, in input order.
 */
export async function compareStamps(sink: RecordSink, stamps: readonly RecordStamp[]): Promise<StampComparison> {
  if (sink.capabilities.compareStamps && sink.compareStamps) return sink.compareStamps(stamps);
  const byEvent = new Map<string, RecordStamp[]>();
  for (const s of stamps) {
    const list = byEvent.get(s.eventId);
    if (list === undefined) byEvent.set(s.eventId, [s]);
    else list.push(s);
  }
  const missingSet = new Set<RecordStamp>();
  const staleSet = new Set<RecordStamp>();
  await Promise.all(
    [...byEvent.entries()].map(async ([eventId, list]) => {
      const held = await sink.readStamps(
        eventId,
        list.map((s) => s.id),
      );
      list.forEach((stamp, i) => {
        if (held[i] === undefined) missingSet.add(stamp);
        else if (held[i] !== stamp.modifiedAt) staleSet.add(stamp);
      });
    }),
  );
  return { missing: stamps.filter((s) => missingSet.has(s)), stale: stamps.filter((s) => staleSet.has(s)) };
}

/**
 * Upserts records without letting an older version overwrite a newer one. A sink with the
 * `ordering` capability does it atomically itself (and keeps tombstones). Otherwise (fallback):
 * one `readStamps` per event first (concurrently), records older under every reading of their time
 * than the held one (`(modifiedAtLatest ?? modifiedAt) < held`) are dropped and reported in
 * `refused`, the rest upserted. The fallback is check-then-write: a write landing between the read
 * and the upsert can still be overtaken, and deletes leave no tombstone.
 *
 * @returns the sink's result, with the refused records (`refused`, per event and in total) when any.
 */
export async function upsertInOrder(sink: RecordSink, records: readonly SourceRecord[]): Promise<UpsertResult> {
  if (sink.capabilities.ordering === true || records.length === 0) return sink.upsertRecords(records);
  const byEvent = new Map<string, SourceRecord[]>();
  for (const r of records) {
    const list = byEvent.get(r.eventId);
    if (list === undefined) byEvent.set(r.eventId, [r]);
    else list.push(r);
  }
  const refusedByEvent = new Map<string, string[]>();
  const stale = new Set<SourceRecord>();
  await Promise.all(
    [...byEvent.entries()].map(async ([eventId, list]) => {
      const held = await sink.readStamps(
        eventId,
        list.map((r) => r.id),
      );
      list.forEach((record, i) => {
        const stamp = held[i];
        if (stamp !== undefined && (record.modifiedAtLatest ?? record.modifiedAt) < stamp) {
          stale.add(record);
          const ids = refusedByEvent.get(eventId);
          if (ids === undefined) refusedByEvent.set(eventId, [record.id]);
          else ids.push(record.id);
        }
      });
    }),
  );
  if (stale.size === 0) return sink.upsertRecords(records);
  const kept = records.filter((r) => !stale.has(r));
  const result: UpsertResult = kept.length > 0 ? await sink.upsertRecords(kept) : { added: 0, updated: 0, unchanged: 0, events: [] };
  const events: EventUpsertResult[] = result.events.map((e) => {
    const refused = refusedByEvent.get(e.eventId);
    refusedByEvent.delete(e.eventId);
    return refused === undefined ? e : { ...e, refused: [...(e.refused ?? []), ...refused] };
  });
  for (const [eventId, refused] of refusedByEvent) events.push({ eventId, added: [], updated: [], unchanged: 0, refused });
  return { ...result, refused: (result.refused ?? 0) + stale.size, events };
}

/**
 * The first of `eventIds` (in order) whose records include `recordId`: the sink's `locateRecord`
 * when declared, else `readStamps(eventId, [recordId])` per event (concurrently).
 */
export async function locateRecord(sink: RecordSink, recordId: string, eventIds: readonly string[]): Promise<string | undefined> {
  if (sink.capabilities.locateRecord && sink.locateRecord) return sink.locateRecord(recordId, eventIds);
  const held = await Promise.all(eventIds.map((eventId) => sink.readStamps(eventId, [recordId])));
  const index = held.findIndex((h) => h[0] !== undefined);
  return index < 0 ? undefined : eventIds[index];
}

/**
 * Streams the IDs an event holds that were not marked seen in `scope`: the sink's ID scan, each
 * chunk filtered by the state store. Never holds more than one chunk in memory; empty chunks skipped.
 */
export async function* scanUnseen(sink: RecordSink, state: StateStore, eventId: string, scope: string): AsyncGenerator<string[], void, undefined> {
  for await (const ids of sink.scanRecordIds(eventId)) {
    const unseen = await state.filterUnseen(eventId, scope, ids);
    if (unseen.length > 0) yield unseen;
  }
}

/**
 * Events' metadata with the sink's record counts (one state-store read + one count per event,
 * concurrently).
 */
export async function readEventMetas(state: StateStore, sink: RecordSink, eventIds: readonly string[]): Promise<EventMeta[]> {
  const [states, counts] = await Promise.all([state.getEventStates(eventIds), Promise.all(eventIds.map((id) => sink.countRecords(id)))]);
  return states.map((s, i) => ({ ...s, recordCount: counts[i]! }));
}
