/** The human-readable `--dry-run` output: what a run would cost in Zoho calls and what it would write. */
import type { RunPlanWithQuota } from '../worker/sync-worker.js';

const n = (value: number): string => value.toLocaleString('en-US');

/**
 * Formats a plan, e.g.
 * ```text
 * Plan: full sync, bulk listing of about 1,000,000 records
 * Zoho calls: about 24 (token 1, records 21, ids 0, meta 2)
 *   not exact: A bulk job takes status polls until Zoho finishes it: counted as one per job.
 * Quota today (2026-12-01, Asia/Ho_Chi_Minh): 120 used of 1,000, 880 left; fits
 * Writes: 64 upserts, 0 removals in 3 events
 *   4085713000000012345: upsert 4085713000000098765, 4085713000000098771
 * ```
 */
export function formatPlan(plan: RunPlanWithQuota): string {
  const lines: string[] = [];
  const what = plan.kind === 'force' ? `force sync of event ${plan.eventId}` : plan.kind === 'discrepancy-check' ? 'discrepancy check' : `${plan.kind} sync`;
  const records = plan.countsKnown ? `about ${n(plan.expectedRecords)} records` : `an unknown number of records (Redis holds ${n(plan.expectedRecords)})`;
  lines.push(`Plan: ${what}, ${plan.listing} listing of ${records}` + (plan.bulkFallback === undefined ? '' : ` (not bulk: ${plan.bulkFallback})`));
  const c = plan.calls;
  if (c === undefined) lines.push('Zoho calls: the source gives no estimate');
  else {
    const size = c.exact ? '' : plan.countsKnown ? 'about ' : 'at least ';
    lines.push(`Zoho calls: ${size}${n(c.total)} (token ${c.token}, records ${n(c.records)}, ids ${n(c.ids)}, meta ${c.meta})`);
    for (const why of plan.inexact) lines.push(`  not exact: ${why}`);
  }
  const q = plan.quota;
  if (q === undefined) lines.push('Quota today: not tallied by this store');
  else {
    let limit = '; no dailyCallLimit set (SYNC_DAILY_CALL_LIMIT)';
    if (q.limit !== undefined) {
      const verdict =
        plan.fitsQuota === false
          ? 'DOES NOT FIT (the run would be refused; --ignore-quota-budget runs it)'
          : plan.countsKnown
            ? 'fits'
            : 'fits as a floor (no record counts in Redis yet: the run stops if it uses up the calls left)';
      limit = ` of ${n(q.limit)}, ${n(q.left ?? 0)} left; ${verdict}`;
    }
    lines.push(`Quota today (${q.day}, ${q.timeZone}): ${n(q.used.total)} used${limit}`);
  }
  if (plan.planCalls.total > 0) lines.push(`This plan itself made ${n(plan.planCalls.total)} Zoho calls (counted in today's tally)`);
  const w = plan.writes;
  if (w !== undefined) {
    lines.push(
      `Writes: ${n(w.upserts)} upserts, ${n(w.removals)} removals in ${n(w.events.length)} events` +
        (w.rejected > 0 ? `; ${n(w.rejected)} records would go to the dead-letter stream` : ''),
    );
    for (const e of w.events) {
      const parts: string[] = [];
      if (e.upserts > 0) parts.push(e.upsertIds ? `upsert ${e.upsertIds.join(', ')}` : `upsert ${n(e.upserts)} records`);
      if (e.removals > 0) {
        parts.push(`${e.removalBlocked ? 'remove (blocked by the mass-removal guard) ' : 'remove '}${e.removalIds ? e.removalIds.join(', ') : `${n(e.removals)} records`}`);
      }
      lines.push(`  ${e.eventId}: ${parts.join('; ')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
