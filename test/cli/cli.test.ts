/**
 * The `zoho-redis-sync` CLI: argument parsing, output rendering, and every command run in-process
 * against the simulator and the real Redis (random key prefix per test, keys deleted afterwards);
 * then the bin itself as a child process, with a pipe (JSON lines) and a pseudo-terminal (progress bar).
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseCliArgs, UsageError } from '../../src/cli/args.js';
import { failureReason, renderProgressLine, toJsonLine } from '../../src/cli/output.js';
import { type CliIo, EXIT, runCli } from '../../src/cli/run.js';
import { MassRemovalError, ZohoApiError } from '../../src/errors.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { createZohoSimulator, type ZohoSimulator } from '../../src/testing.js';
import { deletePrefix, REDIS_URL, randomPrefix } from '../redis/helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Captured {
  readonly io: CliIo;
  stdout(): string;
  stderr(): string;
  /** Parsed JSON lines of stdout. */
  lines(): { event: string; at: string; data: Record<string, unknown> }[];
}

function capture(env: Record<string, string | undefined>, options: { tty?: boolean; signal?: AbortSignal } = {}): Captured {
  let out = '';
  let err = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (out += s), isTTY: options.tty ?? false, columns: 120 },
    stderr: { write: (s: string) => (err += s) },
    env,
    signal: options.signal,
  };
  return {
    io,
    stdout: () => out,
    stderr: () => err,
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { event: string; at: string; data: Record<string, unknown> }),
  };
}

/** The environment of a CLI run: only what we set (no ZOHO_* or SYNC_* from the outer shell). */
function cliEnv(prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return { REDIS_URL, SYNC_KEY_PREFIX: prefix, SIM_KEY_PREFIX: prefix, SIM_EVENTS: '12', SIM_REGISTRATIONS: '1500', ...extra };
}

/** ZOHO_* variables pointing at a simulator, as a user would set them for real Zoho. */
function zohoEnv(sim: ZohoSimulator): Record<string, string> {
  return {
    ZOHO_CLIENT_ID: sim.credentials.clientId,
    ZOHO_CLIENT_SECRET: sim.credentials.clientSecret,
    ZOHO_REFRESH_TOKEN: sim.credentials.refreshToken,
    ZOHO_ACCOUNT_OWNER: sim.config.accountOwner,
    ZOHO_APP_LINK_NAME: sim.config.appLinkName,
    ZOHO_EVENTS_REPORT: sim.config.eventsReport,
    ZOHO_REGISTRATIONS_REPORT: sim.config.registrationsReport,
    ZOHO_EVENT_LOOKUP_FIELD: sim.config.eventLookupField,
    ZOHO_TIME_ZONE: sim.config.timeZone,
    ZOHO_DATE_FORMAT: sim.config.dateFormat,
    ZOHO_API_BASE_URL: sim.apiBaseUrl,
    ZOHO_ACCOUNTS_BASE_URL: sim.accountsBaseUrl,
  };
}

describe('argument parsing', () => {
  it('reads each command, its argument and flags', () => {
    expect(parseCliArgs(['full-sync', '--simulator'])).toMatchObject({ command: 'full-sync', simulator: true, output: undefined });
    expect(parseCliArgs(['force-sync', '4433256000013547003', '--json'])).toMatchObject({
      command: 'force-sync',
      eventId: '4433256000013547003',
      output: 'json',
    });
    expect(parseCliArgs(['discrepancy-check', '--heal', '--fail-on-discrepancy', '--progress'])).toMatchObject({
      command: 'discrepancy-check',
      heal: true,
      failOnDiscrepancy: true,
      output: 'progress',
    });
    expect(parseCliArgs(['--help']).command).toBe('help');
    expect(parseCliArgs(['-v']).command).toBe('version');
  });

  it.each([
    [[], /Missing command/],
    [['sync-everything'], /Unknown command "sync-everything"/],
    [['force-sync'], /needs an event ID/],
    [['force-sync', 'abc'], /1–19 digits/],
    [['full-sync', 'extra'], /Unexpected argument "extra"/],
    [['full-sync', '--frobnicate'], /^Unknown option "--frobnicate"$/],
    [['full-sync', '-x'], /^Unknown option "-x"$/],
    [['discrepancy-check', '--heal=yes'], /^Option "--heal" takes no value$/],
    [['full-sync', '--heal'], /--heal applies to discrepancy-check only/],
    [['status', '--json', '--progress'], /either --json or --progress/],
    [['status', '--dry-run'], /--dry-run applies to full-sync, incremental-sync, force-sync and discrepancy-check only/],
    [['pushes', '--dry-run'], /--dry-run applies to/],
    [['replay-pushes', '--ignore-quota-budget'], /--ignore-quota-budget applies to/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError);
    expect(() => parseCliArgs(argv)).toThrow(message);
  });
});

describe('output rendering', () => {
  const progress = { pages: 2, recordsFetched: 1260, added: 12, updated: 3, unchanged: 1245, removed: 1, deadLettered: 0, staleWritesRefused: 0 };

  it('draws a determinate bar with records, pages and changes, within the terminal width', () => {
    const line = renderProgressLine({ label: 'full', progress, expectedRecords: 2419, elapsedMs: 1234, width: 120, frame: 0 });
    expect(line).toBe('full [██████████░░░░░░░░░░]  52% 1,260/2,419 records · 2 pages · +12 ~3 -1 · 1.2s');
    expect(renderProgressLine({ label: 'full', progress, expectedRecords: 2419, elapsedMs: 0, width: 40, frame: 0 }).length).toBeLessThan(40);
  });

  it('never shows more done than the total: past the expected count the bar turns indeterminate', () => {
    const more = { ...progress, recordsFetched: 2500 };
    const line = renderProgressLine({ label: 'full', progress: more, expectedRecords: 2419, elapsedMs: 1000, width: 120, frame: 0 });
    expect(line).toContain('2,500 records (Redis held 2,419) · 2 pages');
    expect(line).not.toContain('2,500/2,419');
    expect(line).not.toMatch(/\d+%/);
    const exact = renderProgressLine({ label: 'full', progress: { ...progress, recordsFetched: 2419 }, expectedRecords: 2419, elapsedMs: 0, width: 120, frame: 0 });
    expect(exact).toContain('100% 2,419/2,419 records');
  });

  it('the mass-removal refusal names the CLI flag, not the library option', () => {
    const reason = failureReason(new MassRemovalError('4433256000000100003', 1200, 2000, 0.5));
    expect(reason).toBe(
      'Refusing to remove 1,200 of 2,000 records of event 4433256000000100003 (more than 50 %); if the deletion in Zoho is real, re-run with --allow-mass-removal [ERR_SYNC_MASS_REMOVAL]',
    );
    expect(reason).not.toContain('allowMassRemoval');
  });

  it('draws an indeterminate bar when the total is unknown', () => {
    const a = renderProgressLine({ label: 'incremental', progress, expectedRecords: undefined, elapsedMs: 0, width: 120, frame: 0 });
    const b = renderProgressLine({ label: 'incremental', progress, expectedRecords: undefined, elapsedMs: 0, width: 120, frame: 5 });
    expect(a).toContain('1,260 records · 2 pages');
    expect(a).not.toBe(b);
  });

  it('writes one JSON line per event, errors with name, code, message and details', () => {
    const error = new ZohoApiError('No report found', { httpStatus: 404, zohoCode: 2894, endpoint: 'All_Registrations' });
    const line = toJsonLine('syncFailed', { runId: 'r1', error }, new Date('2024-01-01T00:00:00Z'));
    expect(line.endsWith('\n')).toBe(true);
    expect(line.trim().includes('\n')).toBe(false);
    expect(JSON.parse(line)).toEqual({
      event: 'syncFailed',
      at: '2024-01-01T00:00:00.000Z',
      data: {
        runId: 'r1',
        error: {
          name: 'ZohoApiError',
          message: 'No report found',
          code: 'ERR_SYNC_ZOHO_API',
          httpStatus: 404,
          zohoCode: 2894,
          zohoMessage: undefined,
          endpoint: 'All_Registrations',
        },
      },
    });
  });
});

describe('commands against the simulator and the real Redis', () => {
  let redis: Redis;
  const prefixes: string[] = [];
  const sims: ZohoSimulator[] = [];
  const newPrefix = (): string => {
    const p = randomPrefix('cli');
    prefixes.push(p);
    return p;
  };
  const newSim = async (options: Parameters<typeof createZohoSimulator>[0] = {}): Promise<ZohoSimulator> => {
    const sim = await createZohoSimulator({ dataset: { events: 6, registrations: 800, seed: 3 }, ...options });
    sims.push(sim);
    return sim;
  };

  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  });
  afterEach(async () => {
    for (const p of prefixes.splice(0)) await deletePrefix(redis, `${p}:`);
    for (const s of sims.splice(0)) await s.close();
  });
  afterAll(() => {
    redis.disconnect();
  });

  it('full-sync --simulator --json: one JSON line per event, ending with syncCompleted; Redis holds every record', async () => {
    const prefix = newPrefix();
    const c = capture(cliEnv(prefix));
    expect(await runCli(['full-sync', '--simulator', '--json'], c.io)).toBe(EXIT.OK);
    expect(c.stderr()).toBe('');
    const lines = c.lines();
    expect(lines[0]!.event).toBe('syncStarted');
    const completed = lines.find((l) => l.event === 'syncCompleted')!;
    expect(completed.data).toMatchObject({ kind: 'full', added: 1500, updated: 0, removed: 0, recordsFetched: 1500, pages: 2 });
    expect(lines.filter((l) => l.event === 'eventSynced')).toHaveLength(12);
    const added = lines.filter((l) => l.event === 'recordsAdded').reduce((n, l) => n + (l.data.ids as string[]).length, 0);
    expect(added).toBe(1500);
    let held = 0;
    for (const l of lines.filter((x) => x.event === 'eventSynced')) held += await redis.hlen(`${prefix}:{e:${l.data.eventId as string}}:ids`);
    expect(held).toBe(1500);

    // The same day's simulator data set again: nothing changes.
    const again = capture(cliEnv(prefix));
    expect(await runCli(['full-sync', '--simulator'], again.io)).toBe(EXIT.OK);
    expect(again.lines().find((l) => l.event === 'syncCompleted')!.data).toMatchObject({ added: 0, updated: 0, removed: 0, unchanged: 1500 });
  });

  it('full-sync --simulator --dry-run prints the plan (calls, quota, writes) and writes nothing', async () => {
    const prefix = newPrefix();
    const c = capture(cliEnv(prefix));
    expect(await runCli(['full-sync', '--simulator', '--dry-run', '--json'], c.io)).toBe(EXIT.OK);
    const plan = c.lines().find((l) => l.event === 'plan')!.data;
    // An empty Redis holds no counts, but the plan's own ID listing counted the records: exact.
    expect(plan).toMatchObject({ kind: 'full', listing: 'paged', expectedRecords: 1500, countsKnown: true, writes: { upserts: 1500, removals: 0, listed: 1500 } });
    expect(plan.calls).toMatchObject({ exact: true, records: 2 });
    expect(plan.quota).toMatchObject({ timeZone: 'UTC' });
    expect(c.lines().some((l) => l.event === 'syncStarted')).toBe(false);
    expect(await redis.exists(`${prefix}:{g}:meta`)).toBe(0);
    const text = capture(cliEnv(prefix));
    expect(await runCli(['full-sync', '--simulator', '--dry-run', '--progress'], text.io)).toBe(EXIT.OK);
    expect(text.stdout()).toMatch(/Plan: full sync, paged listing/);
    expect(text.stdout()).toMatch(/Writes: 1,500 upserts, 0 removals in 12 events/);
    expect(text.stdout()).toMatch(/Zoho calls: \d+ \(token \d, records 2, ids 0, meta \d\)\n/);
    // The plan's own calls are tallied; the line reads "<n> used; no dailyCallLimit set".
    expect(text.stdout()).toMatch(/Quota today \(\d{4}-\d\d-\d\d, UTC\): \d+ used; no dailyCallLimit set \(SYNC_DAILY_CALL_LIMIT\)\n/);
  });

  it('SYNC_DAILY_CALL_LIMIT: --dry-run says whether the run fits, a run over the calls left is refused, --ignore-quota-budget runs it', async () => {
    const prefix = newPrefix();
    const env = cliEnv(prefix, { SYNC_DAILY_CALL_LIMIT: '1000', SIM_EVENTS: '3', SIM_REGISTRATIONS: '200' });
    const dry = capture(env);
    expect(await runCli(['full-sync', '--simulator', '--dry-run', '--progress'], dry.io)).toBe(EXIT.OK);
    expect(dry.stdout()).toMatch(/ used of 1,000, \d+ left; fits\n/);
    // Without writes, an empty Redis gives a floor: it fits as one.
    const floor = capture(env);
    expect(await runCli(['discrepancy-check', '--simulator', '--dry-run', '--progress'], floor.io)).toBe(EXIT.OK);
    expect(floor.stdout()).toMatch(/ left; fits as a floor \(no record counts in Redis yet/);
    const tight = { ...env, SYNC_DAILY_CALL_LIMIT: '2' };
    const refused = capture(tight);
    expect(await runCli(['full-sync', '--simulator'], refused.io)).toBe(EXIT.FAILED);
    expect(refused.stderr()).toMatch(/Refusing to start: the run would make .*\[ERR_SYNC_QUOTA_BUDGET\]\n$/);
    const forced = capture(tight);
    expect(await runCli(['full-sync', '--simulator', '--ignore-quota-budget'], forced.io)).toBe(EXIT.OK);
    const after = capture(env);
    expect(await runCli(['full-sync', '--simulator', '--dry-run', '--progress'], after.io)).toBe(EXIT.OK);
    expect(after.stdout()).toMatch(/Plan: full sync, paged listing of about 200 records\n/);
    expect(after.stdout()).toMatch(/ used of 1,000, \d+ left; fits\n/);
  });

  it('force-sync <unknown event> --dry-run fails as the run does (exit 1, the unknown-event reason)', async () => {
    const run = capture(cliEnv(newPrefix()));
    expect(await runCli(['force-sync', '123', '--simulator'], run.io)).toBe(EXIT.FAILED);
    const dry = capture(cliEnv(newPrefix()));
    expect(await runCli(['force-sync', '123', '--simulator', '--dry-run'], dry.io)).toBe(EXIT.FAILED);
    expect(dry.stderr()).toBe(run.stderr());
    expect(dry.stderr()).toBe('zoho-redis-sync: force-sync failed: Unknown event 123: it is not in the Zoho events report [ERR_SYNC_UNKNOWN_EVENT]\n');
    expect(dry.lines().some((l) => l.event === 'plan')).toBe(false);
  });

  it('--simulator writes under SIM_KEY_PREFIX, never under SYNC_KEY_PREFIX (the real data\'s prefix)', async () => {
    const real = newPrefix();
    const simulated = newPrefix();
    const c = capture({ ...cliEnv(real), SIM_KEY_PREFIX: simulated, SIM_EVENTS: '2', SIM_REGISTRATIONS: '20' });
    expect(await runCli(['full-sync', '--simulator'], c.io)).toBe(EXIT.OK);
    expect(await redis.keys(`${real}:*`)).toEqual([]);
    expect((await redis.keys(`${simulated}:*`)).length).toBeGreaterThan(20);
  });

  it('a terminal gets a progress bar with records and pages, then a summary', async () => {
    const prefix = newPrefix();
    const c = capture(cliEnv(prefix), { tty: true });
    expect(await runCli(['full-sync', '--simulator'], c.io)).toBe(EXIT.OK);
    const out = c.stdout();
    expect(out).toContain('Zoho Creator simulator at http://127.0.0.1:');
    expect(out).toContain(`key prefix ${prefix}`);
    expect(out).toContain('\r\u001b[2Kfull ['); // redrawn in place: carriage return, erase line
    expect(out).toMatch(/full \[ *█+ *\] 1,500 records · 2 pages · \+1,500 ~0 -0/);
    expect(out).toContain('✔ full succeeded in');
    expect(out).toContain('1,500 records fetched over 2 pages, 12 events synced or checked');
    expect(out).toContain('Redis: 1,500 added, 0 updated, 0 removed, 0 unchanged');
    expect(out).toMatch(/Zoho calls: 4 \(token 1, records 2, ids 0, meta 1\)/);
    // A second run knows what to expect from Redis: a determinate bar reaching 100 %.
    const again = capture(cliEnv(prefix), { tty: true });
    expect(await runCli(['full-sync', '--simulator'], again.io)).toBe(EXIT.OK);
    expect(again.stdout()).toContain('100% 1,500/1,500 records · 2 pages');
  });

  it('incremental-sync, force-sync, discrepancy-check (--fail-on-discrepancy, --heal) and status', async () => {
    const prefix = newPrefix();
    const sim = await newSim();
    const env = cliEnv(prefix, zohoEnv(sim));
    expect(await runCli(['full-sync'], capture(env).io)).toBe(EXIT.OK);

    const inc = capture(env);
    expect(await runCli(['incremental-sync'], inc.io)).toBe(EXIT.OK);
    const incResult = inc.lines().find((l) => l.event === 'syncCompleted')!.data;
    expect(incResult).toMatchObject({ kind: 'incremental', added: 0, updated: 0, removed: 0, fellBackToFull: false });
    expect((incResult.apiCalls as { records: number }).records).toBe(1);

    const eventId = sim.listEvents()[0]!.id;
    const victims = sim.listRegistrations(eventId).slice(0, 2);
    for (const v of victims) await redis.del(`${prefix}:{e:${eventId}}:rec:${v.id}`);
    await redis.hdel(`${prefix}:{e:${eventId}}:ids`, ...victims.map((v) => v.id));

    const check = capture(env);
    expect(await runCli(['discrepancy-check', '--fail-on-discrepancy'], check.io)).toBe(EXIT.DISCREPANCIES);
    expect(check.stderr()).toBe('zoho-redis-sync: discrepancies found: 2 missing in Redis, 0 extra, 0 stale in 1 events\n');
    const report = check.lines().find((l) => l.event === 'discrepancyFound')!.data as { events: { eventId: string; missingInRedis: string[] }[] };
    expect(report.events.find((e) => e.eventId === eventId)!.missingInRedis.sort()).toEqual(victims.map((v) => v.id).sort());

    const force = capture(env);
    expect(await runCli(['force-sync', eventId], force.io)).toBe(EXIT.OK);
    expect(force.lines().find((l) => l.event === 'syncCompleted')!.data).toMatchObject({ kind: 'force', eventId, added: 2 });

    sim.deleteRegistration(sim.listRegistrations()[5]!.id);
    const heal = capture(env);
    expect(await runCli(['discrepancy-check', '--heal', '--fail-on-discrepancy'], heal.io)).toBe(EXIT.DISCREPANCIES);
    expect(heal.lines().find((l) => l.event === 'syncCompleted')!.data).toMatchObject({ removed: 1 });
    const clean = capture(env);
    expect(await runCli(['discrepancy-check', '--fail-on-discrepancy'], clean.io)).toBe(EXIT.OK);

    const requestsBefore = sim.requests.length;
    const status = capture(env);
    expect(await runCli(['status'], status.io)).toBe(EXIT.OK);
    expect(sim.requests.length).toBe(requestsBefore); // status never calls Zoho
    const [line] = status.lines();
    expect(line!.event).toBe('status');
    expect(line!.data).toMatchObject({ key_prefix: prefix, events: 6, records: 799, stale_events: 0, checkpoints: [], lease: { held: false } });
    expect(line!.data.watermark).toMatch(/^\d{4}-\d\d-\d\dT/);

    const human = capture(env, { tty: true });
    expect(await runCli(['status'], human.io)).toBe(EXIT.OK);
    expect(human.stdout()).toContain('Events: 6, records: 799, stale events: 0');
    expect(human.stdout()).toContain('Lease: free');
  });

  it('fails with exit 1 and a one-line reason: Zoho error, unknown event, Redis down', async () => {
    const sim = await newSim();
    sim.inject({ kind: 'records', report: sim.config.registrationsReport, respond: { type: 'zoho', status: 404, code: 2894 }, times: 10 });
    const zoho = capture(cliEnv(newPrefix(), zohoEnv(sim)));
    expect(await runCli(['full-sync'], zoho.io)).toBe(EXIT.FAILED);
    expect(zoho.stderr()).toMatch(/^zoho-redis-sync: full-sync failed: .+ \[ERR_SYNC_ZOHO_API, Zoho code 2894\]\n$/);
    expect(zoho.lines().map((l) => l.event)).toEqual(expect.arrayContaining(['syncStarted', 'syncFailed']));

    const unknown = capture(cliEnv(newPrefix()));
    expect(await runCli(['force-sync', '123', '--simulator'], unknown.io)).toBe(EXIT.FAILED);
    expect(unknown.stderr()).toBe(
      'zoho-redis-sync: force-sync failed: Unknown event 123: it is not in the Zoho events report [ERR_SYNC_UNKNOWN_EVENT]\n',
    );

    const down = capture({ ...cliEnv(newPrefix()), REDIS_URL: 'redis://127.0.0.1:1' });
    expect(await runCli(['full-sync', '--simulator'], down.io)).toBe(EXIT.FAILED);
    expect(down.stderr()).toMatch(/^zoho-redis-sync: full-sync failed: Cannot connect to Redis at redis:\/\/127\.0\.0\.1:1: .*\(set REDIS_URL\) \[ERR_SYNC_SINK\]\n$/);
  });

  it('exits 2 naming the variable for missing Zoho credentials or a bad worker variable, 2 for bad usage', async () => {
    const missing = capture(cliEnv(newPrefix()));
    expect(await runCli(['full-sync'], missing.io)).toBe(EXIT.USAGE);
    expect(missing.stderr()).toBe(
      'zoho-redis-sync: full-sync failed: Set ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET, ZOHO_REFRESH_TOKEN, ZOHO_ACCOUNT_OWNER, ZOHO_APP_LINK_NAME (Zoho credentials), or pass --simulator to try without Zoho [ERR_SYNC_INVALID_OPTION]\n',
    );
    const bad = capture(cliEnv(newPrefix(), { SYNC_BATCH_SIZE: 'ten' }));
    expect(await runCli(['full-sync', '--simulator'], bad.io)).toBe(EXIT.USAGE);
    expect(bad.stderr()).toContain('SYNC_BATCH_SIZE="ten" is not a non-negative integer');
    const usage = capture({});
    expect(await runCli(['force-sync', 'abc'], usage.io)).toBe(EXIT.USAGE);
    expect(usage.stderr()).toBe('zoho-redis-sync: Event ID must be 1–19 digits, got "abc". Run zoho-redis-sync --help for usage.\n');
    const help = capture({});
    expect(await runCli(['--help'], help.io)).toBe(EXIT.OK);
    expect(help.stdout()).toContain('Usage: zoho-redis-sync <command> [options]');
    const version = capture({});
    expect(await runCli(['--version'], version.io)).toBe(EXIT.OK);
    expect(version.stdout()).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('an unknown flag is reported with balanced quotes', async () => {
    const c = capture(cliEnv(newPrefix()));
    expect(await runCli(['full-sync', '--frobnicate'], c.io)).toBe(EXIT.USAGE);
    expect(c.stderr()).toBe('zoho-redis-sync: Unknown option "--frobnicate". Run zoho-redis-sync --help for usage.\n');
    expect((c.stderr().match(/"/g) ?? []).length % 2).toBe(0);
    expect(c.stderr()).not.toContain("'");
  });

  it('a mass-removal refusal tells the CLI user to re-run with --allow-mass-removal, and that flag passes', async () => {
    const prefix = newPrefix();
    const sim = await newSim();
    const env = cliEnv(prefix, zohoEnv(sim));
    expect(await runCli(['full-sync'], capture(env).io)).toBe(EXIT.OK);
    const eventId = sim.listEvents()[0]!.id;
    const regs = sim.listRegistrations(eventId);
    for (const reg of regs.slice(0, Math.ceil(regs.length * 0.8))) sim.deleteRegistration(reg.id);
    const refused = capture(env);
    expect(await runCli(['force-sync', eventId], refused.io)).toBe(EXIT.FAILED);
    expect(refused.stderr()).toMatch(/^zoho-redis-sync: force-sync failed: Refusing to remove [\d,]+ of [\d,]+ records of event \d+ \(more than 50 %\); if the deletion in Zoho is real, re-run with --allow-mass-removal \[ERR_SYNC_MASS_REMOVAL\]\n$/);
    expect(refused.stderr()).not.toContain('allowMassRemoval');
    const progress = capture(env, { tty: true });
    expect(await runCli(['force-sync', eventId], progress.io)).toBe(EXIT.FAILED);
    expect(progress.stdout()).toContain('; if the deletion is real, re-run with --allow-mass-removal');
    expect(await runCli(['force-sync', eventId, '--allow-mass-removal'], capture(env).io)).toBe(EXIT.OK);
  });

  it('a key prefix ending in ":" does not produce "::" keys', async () => {
    const prefix = newPrefix();
    const c = capture(cliEnv(`${prefix}:`, { SIM_EVENTS: '3', SIM_REGISTRATIONS: '40' }));
    expect(await runCli(['full-sync', '--simulator'], c.io)).toBe(EXIT.OK);
    const [, doubled] = await redis.scan('0', 'MATCH', `${prefix}::*`, 'COUNT', 10_000);
    let cursor = '0';
    let keys = 0;
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:{*`, 'COUNT', 10_000);
      cursor = next;
      keys += found.length;
    } while (cursor !== '0');
    expect(doubled).toEqual([]);
    expect(keys).toBeGreaterThan(40);
    const status = capture(cliEnv(`${prefix}::`));
    expect(await runCli(['status', '--simulator'], status.io)).toBe(EXIT.OK);
    expect(status.lines()[0]!.data).toMatchObject({ key_prefix: prefix, events: 3, records: 40 });
    const onlyColons = capture(cliEnv(':'));
    expect(await runCli(['status'], onlyColons.io)).toBe(EXIT.USAGE);
    expect(onlyColons.stderr()).toContain('SYNC_KEY_PREFIX=":" leaves no key prefix');
  });

  it('status without --simulator finds the runs --simulator made (kept under SIM_KEY_PREFIX)', async () => {
    const real = newPrefix();
    const simulated = newPrefix();
    const env = { ...cliEnv(real), SIM_KEY_PREFIX: simulated, SIM_EVENTS: '4', SIM_REGISTRATIONS: '90' };
    const before = capture(env);
    expect(await runCli(['status'], before.io)).toBe(EXIT.OK);
    expect(before.lines()[0]!.data.simulator_runs).toBeNull();
    expect(await runCli(['full-sync', '--simulator'], capture(env).io)).toBe(EXIT.OK);
    const json = capture(env);
    expect(await runCli(['status'], json.io)).toBe(EXIT.OK);
    expect(json.lines()[0]!.data).toMatchObject({ key_prefix: real, events: 0, simulator_runs: { key_prefix: simulated, events: 4, last_sync_time: expect.any(String), checkpoints: 0 } });
    const human = capture(env, { tty: true });
    expect(await runCli(['status'], human.io)).toBe(EXIT.OK);
    expect(human.stdout()).toContain(`Simulator runs (--simulator) are kept apart, under key prefix ${simulated}: 4 events, last sync 20`);
    expect(human.stdout()).toContain('zoho-redis-sync status --simulator shows them');
  });

  it('a corrupt checkpoint under SIM_KEY_PREFIX: status (both prefixes) names it as unreadable, incremental-sync --simulator repairs it and runs', async () => {
    const real = newPrefix();
    const simulated = newPrefix();
    const env = { ...cliEnv(real), SIM_KEY_PREFIX: simulated, SIM_EVENTS: '3', SIM_REGISTRATIONS: '60' };
    const fullKey = `${simulated}:{g}:checkpoint:full`;
    const incrementalKey = `${simulated}:{g}:checkpoint:incremental`;
    await redis.set(fullKey, '{"cursor":1}');
    await redis.set(incrementalKey, '{not json');
    const unreadable = [
      { name: 'full', key: fullKey, problem: `The value of ${fullKey} is not a checkpoint` },
      { name: 'incremental', key: incrementalKey, problem: `The value of ${incrementalKey} is not valid JSON` },
    ];

    // status --simulator: the checkpoints are listed as unreadable, with their keys; exit 0.
    const sim = capture(env);
    expect(await runCli(['status', '--simulator'], sim.io)).toBe(EXIT.OK);
    expect(sim.stderr()).toBe('');
    expect(sim.lines()[0]!.data).toMatchObject({ key_prefix: simulated, checkpoints: [], unreadable_checkpoints: unreadable });
    const simText = capture(env, { tty: true });
    expect(await runCli(['status', '--simulator'], simText.io)).toBe(EXIT.OK);
    expect(simText.stdout()).toContain(`  Unreadable checkpoint: full in ${fullKey} (The value of ${fullKey} is not a checkpoint); the next run that would resume it deletes it`);

    // status under another prefix looks at SIM_KEY_PREFIX too: it no longer fails, it names the keys.
    const other = capture(env);
    expect(await runCli(['status'], other.io)).toBe(EXIT.OK);
    expect(other.lines()[0]!.data).toMatchObject({
      key_prefix: real,
      unreadable_checkpoints: [],
      simulator_runs: { key_prefix: simulated, events: 0, checkpoints: 0, unreadable_checkpoints: unreadable },
    });
    const otherText = capture(env, { tty: true });
    expect(await runCli(['status'], otherText.io)).toBe(EXIT.OK);
    expect(otherText.stdout()).toContain(`    Unreadable checkpoint: incremental in ${incrementalKey} (The value of ${incrementalKey} is not valid JSON)`);

    // The run goes on: the CLI says which checkpoints the worker's state repair deletes, and the listing starts from page 1.
    const run = capture(env);
    expect(await runCli(['incremental-sync', '--simulator'], run.io)).toBe(EXIT.OK);
    expect(run.stderr()).toBe(
      `zoho-redis-sync: the checkpoint ${incrementalKey} is unreadable (The value of ${incrementalKey} is not valid JSON): this run deletes it and its listing starts from page 1\n` +
        `zoho-redis-sync: the checkpoint ${fullKey} is unreadable (The value of ${fullKey} is not a checkpoint): this run deletes it and its listing starts from page 1\n`,
    );
    expect(run.lines().find((l) => l.event === 'syncCompleted')!.data).toMatchObject({ kind: 'incremental', resumed: false, added: 60 });
    expect(await redis.exists(fullKey, incrementalKey)).toBe(0);

    // With LOG_LEVEL=warn the worker's own warning says it, once (the CLI adds no second line).
    await redis.set(fullKey, '{"cursor":1}');
    const logged = capture({ ...env, LOG_LEVEL: 'warn' });
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    let logLines: string[];
    try {
      expect(await runCli(['full-sync', '--simulator'], logged.io)).toBe(EXIT.OK);
    } finally {
      logLines = consoleError.mock.calls.map((args) => String(args[0]));
      consoleError.mockRestore();
    }
    expect(logged.stderr()).toBe('');
    const warnings = logLines.filter((line) => line.includes(fullKey));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`WARN Corrupt state in ${fullKey}: The value of ${fullKey} is not a checkpoint`);
    expect(await redis.exists(fullKey)).toBe(0);
  });

  it('--simulator says plainly that a new simulator restarts an interrupted listing, and then lists from page 1', async () => {
    const prefix = newPrefix();
    const env = cliEnv(prefix, { SIM_EVENTS: '6', SIM_REGISTRATIONS: '2500' });
    // An earlier --simulator run was interrupted after page 1: its checkpoint names a cursor of a simulator that is gone.
    const sink = new RedisSink({ redis, keyPrefix: prefix });
    await sink.state.setCheckpoint('full', { runId: 'earlier', kind: 'full', cursor: 'cursor-of-a-dead-simulator', nextPage: 2, maxModifiedAt: undefined, since: undefined, startedAt: Date.now() - 60_000 });
    const c = capture(env);
    expect(await runCli(['full-sync', '--simulator'], c.io)).toBe(EXIT.OK);
    expect(c.stderr()).toBe(
      'zoho-redis-sync: an interrupted earlier run left a checkpoint, but --simulator starts a new simulator every time and its cursors are gone: this listing starts again from page 1 (against Zoho the run would resume)\n',
    );
    const done = c.lines().find((l) => l.event === 'syncCompleted')!.data;
    expect(done).toMatchObject({ resumed: false, added: 2500, recordsFetched: 2500 });
    expect(await sink.state.getCheckpoint('full')).toBeUndefined();

    // Interrupted with --simulator: the message does not promise a resume.
    const controller = new AbortController();
    const stopped = capture(cliEnv(newPrefix(), { SIM_EVENTS: '10', SIM_REGISTRATIONS: '30000' }), { signal: controller.signal });
    const run = runCli(['full-sync', '--simulator'], stopped.io);
    while (!stopped.stdout().includes('"recordsAdded"')) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    expect(await run).toBe(EXIT.INTERRUPTED);
    expect(stopped.stderr()).toBe(
      'zoho-redis-sync: full-sync interrupted. With --simulator the next run cannot resume: it starts a new simulator, whose listing starts again from page 1 (against Zoho, the next run resumes from the checkpoint)\n',
    );
  });

  it('Ctrl-C stops the run: exit 130, the checkpoint stays, the lease is released, the next run resumes', async () => {
    const prefix = newPrefix();
    const sim = await newSim({ dataset: { events: 5, registrations: 4000, seed: 4 }, latencyMs: 150 });
    const controller = new AbortController();
    const c = capture(cliEnv(prefix, zohoEnv(sim)), { signal: controller.signal });
    const run = runCli(['full-sync'], c.io);
    while (!c.stdout().includes('"recordsAdded"')) await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    expect(await run).toBe(EXIT.INTERRUPTED);
    expect(c.stderr()).toBe('zoho-redis-sync: full-sync interrupted; its checkpoint stays and the next run resumes from it\n');
    expect(c.lines().find((l) => l.event === 'syncFailed')!.data).toMatchObject({ error: { code: 'ERR_SYNC_ABORTED' } });

    const status = capture(cliEnv(prefix));
    await runCli(['status'], status.io);
    const s = status.lines()[0]!.data as { checkpoints: { name: string; next_page: number }[]; lease: { held: boolean } };
    expect(s.lease.held).toBe(false);
    expect(s.checkpoints).toEqual([expect.objectContaining({ name: 'full', next_page: expect.any(Number) })]);

    const resume = capture(cliEnv(prefix, zohoEnv(sim)));
    expect(await runCli(['full-sync'], resume.io)).toBe(EXIT.OK);
    expect(resume.lines().find((l) => l.event === 'syncCompleted')!.data).toMatchObject({ resumed: true, removed: 0 });
  });
});

describe('the bin as a child process', () => {
  let redis: Redis;
  const prefix = randomPrefix('cli-bin');
  const env = (): NodeJS.ProcessEnv => {
    const out: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ZOHO_') && !k.startsWith('SYNC_') && !k.startsWith('SIM_')) out[k] = v;
    return { ...out, ...cliEnv(prefix), LOG_LEVEL: '' };
  };
  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  });
  afterAll(async () => {
    await deletePrefix(redis, `${prefix}:`);
    redis.disconnect();
  });

  it('with a pipe: JSON lines on stdout, nothing on stderr, exit 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'full-sync', '--simulator'], { cwd: ROOT, env: env() });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(err).toBe('');
    expect(code).toBe(0);
    const events = out.trim().split('\n').map((l) => (JSON.parse(l) as { event: string }).event);
    expect(events[0]).toBe('syncStarted');
    expect(events.at(-1)).toBe('syncCompleted');
  });

  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!hasScript)('on a terminal (a pseudo-terminal through `script`): the progress bar', () => {
    const result = spawnSync('script', ['-qec', `"${process.execPath}" --import tsx src/cli/main.ts full-sync --simulator`, '/dev/null'], {
      cwd: ROOT,
      env: env(),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/full \[[█░ ]+\].*records · \d pages? ·/);
    expect(result.stdout).toContain('✔ full succeeded in');
  });
});
