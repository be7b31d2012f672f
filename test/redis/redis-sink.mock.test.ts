/** The core RedisSink suite against ioredis-mock (Lua through its interpreter). */
import { mockRedis } from './helpers.js';
import { defineSinkSuite } from './sink-suite.js';

defineSinkSuite(mockRedis);
