/**
 * `npm test` honours REDIS_URL everywhere (issue 12 item 21): the Redis-cutting proxy of the fault
 * suite forwards to REDIS_URL's host and port, and clients behind it use REDIS_URL's DB, so a run
 * with `REDIS_URL=redis://host:port/3` leaves nothing in DB 0. Checked on a private server, whose
 * DB 0 nobody else uses.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCutProxy } from '../faults/helpers.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

describe('REDIS_URL is honoured by the test helpers', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('the Redis-cutting proxy forwards to REDIS_URL (host, port, DB), not to 127.0.0.1:6379 DB 0', async () => {
    const proxy = new RedisCutProxy(`${server.url}/3`);
    const port = await proxy.listen();
    expect(proxy.clientUrl(port)).toBe(`redis://127.0.0.1:${port}/3`);
    const viaProxy = new Redis(proxy.clientUrl(port), { maxRetriesPerRequest: 0 });
    const db0 = new Redis(server.url, { maxRetriesPerRequest: 1 });
    const db3 = new Redis(`${server.url}/3`, { maxRetriesPerRequest: 1 });
    try {
      await viaProxy.set('zrs-proxy-probe', 'through the proxy');
      expect(await db3.get('zrs-proxy-probe')).toBe('through the proxy');
      expect(await db0.dbsize()).toBe(0);
      // The proxy's connection is the private server's, not the shared Redis's.
      const id = Number(await viaProxy.client('ID'));
      const clients = (await db0.client('LIST')) as string;
      expect(clients).toMatch(new RegExp(`id=${id} .*db=3`));
    } finally {
      viaProxy.disconnect();
      db0.disconnect();
      db3.disconnect();
      await proxy.close();
    }
  });

  it('a proxy with credentials in REDIS_URL keeps them for its clients', () => {
    const proxy = new RedisCutProxy('redis://user:pw@10.0.0.5:6390/2');
    expect(proxy.clientUrl(4000)).toBe('redis://user:pw@127.0.0.1:4000/2');
  });
});
