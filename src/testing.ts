/**
 * `@org/zoho-redis-sync/testing`: a local Zoho Creator simulator (a real HTTP server speaking
 * Creator's wire format) and a seeded data-set generator, for tests and benchmarks.
 *
 * @example
 * ```ts
 * import { createZohoSimulator } from '@org/zoho-redis-sync/testing';
 * const sim = await createZohoSimulator({ dataset: { events: 40, registrations: 2419, seed: 1 } });
 * // point ZohoCreatorSource at sim.apiBaseUrl / sim.accountsBaseUrl with sim.credentials
 * await sim.close();
 * ```
 */
export { type ClockLike, type ControllableClock, SimulatorClock } from './testing/clock.js';
export {
  type Dataset,
  type DatasetOptions,
  generateDataset,
  type SimDate,
  type SimDateTime,
  type SimEvent,
  type SimFields,
  type SimFieldValue,
  type SimRegistration,
} from './testing/dataset.js';
export {
  createZohoSimulator,
  type InjectedResponse,
  type InjectionRule,
  type RequestKind,
  type SimRequest,
  type SimulatorConfig,
  type SimulatorCredentials,
  ZohoSimulator,
  type ZohoSimulatorOptions,
} from './testing/simulator.js';
export { type SinkContractOptions, type SinkContractRunner, testSinkContract } from './testing/sink-contract.js';
