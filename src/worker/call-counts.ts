/**
 * Zoho call counts between two readings of a source's `getCallCounts()`.
 */
import type { ApiCallCounts } from '../adapters/source.js';

/**
 * The calls made between `before` and `after`, per kind (`after - before`, field by field).
 * @param after - a later reading of `SourceAdapter.getCallCounts()`. Unit: calls.
 * @param before - an earlier reading of the same source. Unit: calls.
 * @returns the difference per kind (token, records, ids, meta, total). Unit: calls. Never throws.
 */
export function callsBetween(after: ApiCallCounts, before: ApiCallCounts): ApiCallCounts {
  return {
    token: after.token - before.token,
    records: after.records - before.records,
    ids: after.ids - before.ids,
    meta: after.meta - before.meta,
    total: after.total - before.total,
  };
}
