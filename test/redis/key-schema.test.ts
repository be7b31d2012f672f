import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError } from '../../src/errors.js';
import { createKeySchema } from '../../src/redis/key-schema.js';

describe('createKeySchema', () => {
  const keys = createKeySchema();
  const e = '4433256000013547003';

  it('builds every key of the documented schema', () => {
    expect(keys.prefix).toBe('zrs');
    expect(keys.record(e, '77')).toBe(`zrs:{e:${e}}:rec:77`);
    expect(keys.recordStem(e)).toBe(`zrs:{e:${e}}:rec:`);
    expect(keys.ids(e)).toBe(`zrs:{e:${e}}:ids`);
    expect(keys.eventMeta(e)).toBe(`zrs:{e:${e}}:meta`);
    expect(keys.seen(e, 'run-1')).toBe(`zrs:{e:${e}}:seen:run-1`);
    expect(keys.deadLetters(e)).toBe(`zrs:{e:${e}}:dlq`);
    expect(keys.events()).toBe('zrs:{g}:events');
    expect(keys.syncMeta()).toBe('zrs:{g}:meta');
    expect(keys.checkpoint('full')).toBe('zrs:{g}:checkpoint:full');
    expect(keys.lease()).toBe('zrs:{g}:lease');
    expect(keys.fence()).toBe('zrs:{g}:fence');
    expect(keys.globalDeadLetters()).toBe('zrs:{g}:dlq');
    expect(createKeySchema('app').ids('1')).toBe('app:{e:1}:ids');
  });

  it('reads the event ID back from an index key and escapes the prefix in SCAN patterns', () => {
    expect(keys.eventIdOfIdsKey(keys.ids(e))).toBe(e);
    expect(keys.eventIdOfIdsKey(keys.eventMeta(e))).toBeUndefined();
    expect(keys.eventIdOfIdsKey(`zrs:{e:1}:rec:x}:ids`)).toBeUndefined();
    expect(keys.idsPattern()).toBe('zrs:{e:*}:ids');
    expect(createKeySchema('a*b?[c]').idsPattern()).toBe('a\\*b\\?\\[c\\]:{e:*}:ids');
  });

  it('rejects a prefix with braces or whitespace, or an empty one', () => {
    for (const bad of ['', 'a{b', 'a}b', 'a b', 'a\tb']) {
      expect(() => createKeySchema(bad)).toThrow(ConfigError);
    }
    try {
      createKeySchema('x{');
    } catch (error) {
      expect((error as ConfigError).option).toBe('keyPrefix');
    }
  });

  it('rejects IDs and scopes that would break the hash tag', () => {
    expect(() => keys.ids('')).toThrow(InvalidInputError);
    expect(() => keys.ids('1}x')).toThrow(InvalidInputError);
    expect(() => keys.ids('1 2')).toThrow(InvalidInputError);
    expect(() => keys.seen(e, 'a{b')).toThrow(InvalidInputError);
    expect(() => keys.record(e, '')).toThrow(InvalidInputError);
    expect(() => keys.checkpoint('')).toThrow(InvalidInputError);
  });
});
