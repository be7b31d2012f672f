/** The message of what `fn` throws, or `'did not throw'` (for asserting on error wording). */
export function thrownMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  return 'did not throw';
}
