/**
 * commitOverlap(): page n+1's commit runs while page n's finishes, but what follows a commit
 * (counting, the checkpoint) runs in page order, only after every earlier page committed; at most
 * two pages commit at once; a failure surfaces for the earliest failed page, with nothing in flight.
 */
import { describe, expect, it } from 'vitest';
import { commitOverlap, PageCommitFailure } from '../../src/worker/commit-overlap.js';

/** A commit that settles when told to. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('commitOverlap', () => {
  it('runs each page’s after-step in page order, once it and every earlier page committed', async () => {
    const log: string[] = [];
    const commits = commitOverlap();
    const one = deferred();
    const two = deferred();
    await commits.add({ pageNumber: 1, commit: one.promise, after: async () => void log.push('after 1') });
    const adding = commits.add({ pageNumber: 2, commit: two.promise, after: async () => void log.push('after 2') });
    let added = false;
    void adding.then(() => (added = true));
    // Page 2 commits first: its after-step still waits for page 1.
    two.resolve();
    await tick();
    expect(log).toEqual([]);
    expect(added).toBe(false); // the caller is held while page 1 commits: at most two pages at once
    one.resolve();
    await adding;
    await commits.drain();
    expect(log).toEqual(['after 1', 'after 2']);
  });

  it('reports the earliest failed page after the later page settled', async () => {
    const commits = commitOverlap();
    const one = deferred();
    const two = deferred();
    const after: number[] = [];
    await commits.add({ pageNumber: 1, commit: one.promise, after: async () => void after.push(1) });
    const adding = commits.add({ pageNumber: 2, commit: two.promise, after: async () => void after.push(2) });
    let settled = false;
    adding.catch(() => undefined).then(() => (settled = true));
    one.reject(new Error('page 1 failed'));
    await tick();
    expect(settled).toBe(false); // page 2's commit is still in flight
    two.reject(new Error('page 2 failed'));
    const failure = await adding.catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PageCommitFailure);
    expect([(failure as PageCommitFailure).pageNumber, (failure as PageCommitFailure).step]).toEqual([1, 'commit']);
    expect(((failure as PageCommitFailure).error as Error).message).toBe('page 1 failed');
    expect(after).toEqual([]);
  });

  it('drain() reports the last page’s failure and skips its after-step', async () => {
    const commits = commitOverlap();
    const after: number[] = [];
    await commits.add({ pageNumber: 1, commit: Promise.resolve(), after: async () => void after.push(1) });
    await commits.add({ pageNumber: 2, commit: Promise.reject(new Error('boom')), after: async () => void after.push(2) });
    const failure = await commits.drain().catch((e: unknown) => e);
    expect((failure as PageCommitFailure).pageNumber).toBe(2);
    expect(after).toEqual([1]);
  });

  it('an after-step failure (the checkpoint write) names its page and step, and stops later after-steps', async () => {
    const commits = commitOverlap();
    const after: number[] = [];
    await commits.add({
      pageNumber: 1,
      commit: Promise.resolve(),
      after: async () => {
        throw new Error('checkpoint failed');
      },
    });
    const failure = await commits.add({ pageNumber: 2, commit: Promise.resolve(), after: async () => void after.push(2) }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PageCommitFailure);
    expect([(failure as PageCommitFailure).pageNumber, (failure as PageCommitFailure).step]).toEqual([1, 'after']);
    expect(((failure as PageCommitFailure).error as Error).message).toBe('checkpoint failed');
    expect(after).toEqual([]);
  });
});
