/**
 * `@org/zoho-redis-sync`: keeps a Redis copy of Zoho Creator data correct. Explicit named
 * exports only; framework bindings live in `./express` and `./fastify`, the simulator in `./testing`.
 */
export type {
  ApiCallCounts,
  CallBudget,
  ListOptions,
  RecordStamp,
  RejectedRecord,
  RejectionReason,
  SourceAdapter,
  SourceCallOptions,
  SourceEvent,
  SourcePage,
  SourceRecord,
} from './adapters/source.js';
export { MAX_RECORD_DEPTH } from './adapters/source.js';
export type {
  EventUpsertResult,
  RecordSink,
  RecordSinkCapabilities,
  RemoveOptions,
  SinkAdapter,
  StampComparison,
  UpsertOptions,
  UpsertResult,
} from './adapters/sink.js';
export type {
  Checkpoint,
  DeadLetterOptions,
  EventMeta,
  EventMetaPatch,
  EventState,
  FenceOptions,
  Lease,
  LeaseHolder,
  RecordRef,
  StateStore,
  SyncMeta,
  SyncMetaPatch,
} from './adapters/state-store.js';
export {
  AbortedError,
  BusyError,
  CallLimitError,
  ConfigError,
  InvalidInputError,
  isSyncError,
  isZohoApiError,
  LeaseError,
  MassRemovalError,
  QuotaBudgetError,
  SinkError,
  SyncError,
  SyncErrorCode,
  type SyncErrorCodeValue,
  type SyncErrorOptions,
  toSyncError,
  UnknownEventError,
  VerificationError,
  ZohoApiError,
  type ZohoApiErrorDetails,
  ZohoAuthError,
  type ZohoErrorCode,
} from './errors.js';
export { createConsoleLogger, type Logger, type LogLevel, parseLogLevel, silentLogger } from './logger.js';
export {
  createKeySchema,
  DEFAULT_KEY_PREFIX,
  type KeySchema,
} from './redis/key-schema.js';
export { createRecordLayout, DEFAULT_INDEX_KEY, DEFAULT_RECORD_KEY, type RecordLayout, type RecordLayoutOptions } from './redis/layout.js';
export { RedisSink, type RedisSinkOptions } from './redis/redis-sink.js';
export { createRedisClient, type CreateRedisClientOptions } from './redis/connection.js';
export {
  type ClusterNode,
  DEFAULT_REDIS_URL,
  parseClusterNodes,
  type RedisConnectionConfig,
  redisConnectionFromEnv,
} from './redis/connection-config.js';
export { RedisStateStore, type RedisStateStoreOptions } from './redis/state-store.js';
export { checkRedisUrl } from './redis/redis-url.js';
export { type ZohoDataCentre, ZOHO_DATA_CENTRES } from './zoho/data-centres.js';
export { type ZohoPageSize, ZohoCreatorSource, type ZohoCreatorSourceOptions } from './zoho/zoho-creator-source.js';
export type { DiscrepancyReport, DiscrepancyTotals, EventDiscrepancy, HealSummary } from './worker/discrepancy.js';
export type {
  EventSyncedPayload,
  LeaseLostPayload,
  MassRemovalBlockedPayload,
  RecordDeadLetteredPayload,
  RecordsChangedPayload,
  RecordSyncedPayload,
  RunSkippedPayload,
  RunSkipReason,
  SyncFailedPayload,
  SyncStartedPayload,
  SyncWorkerEvents,
  TickSkippedPayload,
} from './worker/events.js';
export {
  configFromEnv,
  DEFAULT_SYNC_WORKER_OPTIONS,
  ENV_VARIABLES,
  type EnvConfig,
  type ResolvedSyncWorkerOptions,
  resolveOptions,
  type SyncWorkerOptions,
} from './worker/options.js';
export type { RecordSyncResult } from './worker/record-sync.js';
export type { RunHandle, RunInfo, RunKind, RunProgress, RunRequest, RunResult } from './worker/run.js';
export type { StatusConfig, StatusLastRun, StatusRun, SyncStats, SyncWorkerStatus } from './worker/status.js';
export { type DiscrepancyCheckOptions, RUN_KINDS, STOP_TIMEOUT_MS, SyncWorker, type SyncRunOptions } from './worker/sync-worker.js';
export { createSyncRoutes, type SyncRoute, type SyncWorkerLike } from './http/routes.js';
export type { SyncPushesLike } from './http/options.js';
export { PUSH_REJECTION_CODES, PushRejectedError, type PushRejectionCode } from './push/errors.js';
export type {
  PushAppliedPayload,
  PushDeadLetteredPayload,
  PushRejectedPayload,
  RecordPushedPayload,
  ZohoPushEvents,
} from './push/events.js';
export type { PushOutcome } from './push/apply.js';
export { type DeadPushEntry, PUSH_CONSUMER_GROUP, type PushEntry } from './push/inbox.js';
export type { LagSummary } from './push/lag.js';
export type { PushAction, PushMediaType, PushPayload } from './push/payload.js';
export type { PushRequest } from './push/receiver.js';
export { computeHmac, SHARED_SECRET_HEADER, SIGNATURE_HEADER, signPush, TIMESTAMP_HEADER } from './push/signature.js';
export { type PushStatus, ZohoPushes, type ZohoPushesOptions } from './push/zoho-pushes.js';
export { ERROR_STATUS, toErrorResponse } from './http/error-map.js';
