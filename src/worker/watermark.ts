/**
 * Watermark rule. The watermark is a source instant (Zoho `Modified_Time`), never the local clock.
 *
 * A listing that spans several pages is not a snapshot: a record on an already-read page can be
 * modified (at instant T) while later pages are read, and a later page may carry a record modified
 * after T. Every such T is at or after the listing's start, and the highest instant seen is at or
 * before its end, so `maxSeen - listingDuration <= start <= T`: using that as the new watermark
 * re-reads, and so never skips, anything modified during the listing. A single-page listing is one
 * response, a snapshot, and needs no correction. The local clock only measures a width here.
 */

/**
 * The watermark a completed listing may commit.
 * @param maxSeen - highest modification instant seen (epoch ms), or `undefined` if nothing was seen.
 * @param listingStartedAt - local time the listing started (epoch ms); only the elapsed width is used.
 * @param pages - pages the listing spanned (resumed listings count as multi-page).
 * @param now - local time the listing completed (epoch ms).
 */
export function watermarkCandidate(
  maxSeen: number | undefined,
  listingStartedAt: number,
  pages: number,
  now: number,
): number | undefined {
  if (maxSeen === undefined) return undefined;
  if (pages <= 1) return maxSeen;
  return maxSeen - Math.max(0, now - listingStartedAt);
}
