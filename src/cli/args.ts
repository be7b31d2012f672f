/**
 * Command-line parsing of the `zoho-redis-sync` bin: one command, its argument and a few flags.
 */
import { parseArgs } from 'node:util';

/** The commands of the CLI. */
export const CLI_COMMANDS = ['full-sync', 'incremental-sync', 'force-sync', 'status', 'discrepancy-check', 'pushes', 'replay-pushes'] as const;

/** One of {@link CLI_COMMANDS}. */
export type CliCommand = (typeof CLI_COMMANDS)[number];

/** How run progress is shown: a progress bar (terminal) or one JSON line per event. */
export type OutputMode = 'progress' | 'json';

/** A parsed command line. */
export interface ParsedArgs {
  /** The command; `help` and `version` are answered without touching Redis or Zoho. */
  readonly command: CliCommand | 'help' | 'version';
  /** The event of `force-sync`. */
  readonly eventId: string | undefined;
  /** Use the bundled Zoho Creator simulator instead of Zoho. */
  readonly simulator: boolean;
  /** Forced output mode; `undefined` = progress on a terminal, JSON lines otherwise. */
  readonly output: OutputMode | undefined;
  /** `discrepancy-check --heal`: repair what the check finds. */
  readonly heal: boolean;
  /** `discrepancy-check --fail-on-discrepancy`: exit 3 when anything differs. */
  readonly failOnDiscrepancy: boolean;
  /** Bypass the mass-removal guard for this run. */
  readonly allowMassRemoval: boolean;
  /** `--dry-run`: print the run's plan (Zoho calls, quota left today, the writes of a full sync or a healing check) and write nothing. */
  readonly dryRun: boolean;
  /** `--ignore-quota-budget`: run even when the plan exceeds the calls left today (`SYNC_DAILY_CALL_LIMIT`). */
  readonly ignoreQuotaBudget: boolean;
}

/** A command line that cannot be run; the CLI prints the message and exits with code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The `--help` text. */
export const USAGE = `Usage: zoho-redis-sync <command> [options]

Commands:
  full-sync                 Read every registration from Zoho and make Redis equal to it
  incremental-sync          Sync what changed since the watermark (plus a staleness check when due)
  force-sync <eventId>      Re-read one event completely and remove what left it
  status                    Show what Redis holds: watermark, last syncs, events, checkpoints, lease
  discrepancy-check         Compare Zoho with Redis record by record (read-only unless --heal)
  pushes                    List Zoho pushes waiting in the inbox and those that failed (dead-lettered)
  replay-pushes             Move failed pushes back into the inbox and apply them (reads Zoho)

Options:
  --simulator               Use a local Zoho Creator simulator (no Zoho credentials needed)
  --json                    One JSON line per event on stdout (default when stdout is not a terminal)
  --progress                A progress bar (default when stdout is a terminal)
  --heal                    discrepancy-check: repair exactly the records that differ
  --fail-on-discrepancy     discrepancy-check: exit with code 3 when anything differs
  --allow-mass-removal      Bypass the mass-removal guard for this run
  --dry-run                 Print what the run would cost and write (Zoho calls, quota left today), writing nothing
  --ignore-quota-budget     Run even when the plan exceeds the Zoho calls left today under SYNC_DAILY_CALL_LIMIT
  -h, --help                Show this help
  -v, --version             Show the version

Environment:
  REDIS_URL                 default redis://127.0.0.1:6379
  REDIS_CLUSTER_NODES       a Redis Cluster instead: host:port,host:port,… (REDIS_USERNAME, REDIS_PASSWORD optional)
  SYNC_KEY_PREFIX           default zrs
  SIM_KEY_PREFIX            the key prefix with --simulator (default zrs-simulator)
  ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET, ZOHO_REFRESH_TOKEN, ZOHO_ACCOUNT_OWNER, ZOHO_APP_LINK_NAME
                            required unless --simulator
  ZOHO_DATA_CENTRE          com, eu, in, com.au, jp, ca, com.cn or sa (default com)
  ZOHO_EVENTS_REPORT        default All_Events
  ZOHO_REGISTRATIONS_REPORT default All_Registrations
  ZOHO_EVENT_LOOKUP_FIELD   default Event
  ZOHO_TIME_ZONE, ZOHO_DATE_FORMAT, ZOHO_API_BASE_URL, ZOHO_ACCOUNTS_BASE_URL  optional
  SYNC_BATCH_SIZE, SYNC_MAX_RETRIES, SYNC_STALE_AFTER_MS, SYNC_STALE_CHECK_INTERVAL_MS, SYNC_MAX_CALLS_PER_RUN,
  ENABLE_DISCREPANCY_DETECTION, LOG_LEVEL, REDIS_LOG_LEVEL   worker options (see the README)
  SYNC_DAILY_CALL_LIMIT     Zoho calls allowed per day: a run whose plan needs more than are left is refused
                            (unless --ignore-quota-budget); unset = no budget check (calls are still tallied)
  SYNC_QUOTA_TIME_ZONE      IANA zone whose midnight starts the Zoho day (the super admin's; default UTC)
  SYNC_EXPECTED_RECORD_COUNT  records to plan by where Redis holds no counts yet (a first run under a budget)
  SYNC_LISTING_STRATEGY     auto, bulk or paged (default auto)
  SYNC_BULK_READ_THRESHOLD  auto lists in bulk above this many expected records (default 20000)
  SIM_EVENTS, SIM_REGISTRATIONS   simulator size (default 40 and 2419)

Exit codes: 0 success, 1 the run failed, 2 bad usage or configuration, 3 discrepancies found
(--fail-on-discrepancy), 130 interrupted.`;

/**
 * Parses `argv` (without the node and script paths).
 *
 * @throws {@link UsageError} for an unknown command or flag, a missing or extra argument.
 */
export function parseCliArgs(argv: readonly string[]): ParsedArgs {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError(parseErrorMessage(error));
  }
  const { values, positionals } = parsed;
  const base = {
    eventId: undefined,
    simulator: values.simulator === true,
    output: values.json ? ('json' as const) : values.progress ? ('progress' as const) : undefined,
    heal: values.heal === true,
    failOnDiscrepancy: values['fail-on-discrepancy'] === true,
    allowMassRemoval: values['allow-mass-removal'] === true,
    dryRun: values['dry-run'] === true,
    ignoreQuotaBudget: values['ignore-quota-budget'] === true,
  };
  if (values.json && values.progress) throw new UsageError('Use either --json or --progress, not both');
  if (values.help) return { ...base, command: 'help' };
  if (values.version) return { ...base, command: 'version' };
  const [command, ...rest] = positionals;
  if (command === undefined) throw new UsageError('Missing command (full-sync, incremental-sync, force-sync <eventId>, status, discrepancy-check)');
  if (!(CLI_COMMANDS as readonly string[]).includes(command)) throw new UsageError(`Unknown command ${JSON.stringify(command)}`);
  const cmd = command as CliCommand;
  // A plan is of a run: status and the push commands have none to print (silently ignoring the flag
  // would let `pushes --dry-run` apply pushes).
  if ((base.dryRun || base.ignoreQuotaBudget) && (cmd === 'status' || cmd === 'pushes' || cmd === 'replay-pushes')) {
    throw new UsageError(`${base.dryRun ? '--dry-run' : '--ignore-quota-budget'} applies to full-sync, incremental-sync, force-sync and discrepancy-check only`);
  }
  if (cmd === 'force-sync') {
    const eventId = rest[0];
    if (eventId === undefined) throw new UsageError('force-sync needs an event ID: zoho-redis-sync force-sync <eventId>');
    if (!/^\d{1,19}$/.test(eventId)) throw new UsageError(`Event ID must be 1–19 digits, got ${JSON.stringify(eventId)}`);
    if (rest.length > 1) throw new UsageError(`Unexpected argument ${JSON.stringify(rest[1])}`);
    return { ...base, command: cmd, eventId };
  }
  if (rest.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(rest[0])}`);
  if ((base.heal || base.failOnDiscrepancy) && cmd !== 'discrepancy-check') {
    throw new UsageError(`${base.heal ? '--heal' : '--fail-on-discrepancy'} applies to discrepancy-check only`);
  }
  return { ...base, command: cmd };
}

/**
 * Our own wording of `util.parseArgs` errors: its unknown-option text ends in an unbalanced quote
 * (`… as in '-- "--foo"`), and the option names are quoted here the way the CLI quotes everything.
 */
function parseErrorMessage(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const option = /'(-[^']*)'/.exec(message)?.[1];
  if (option !== undefined) {
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `Unknown option ${JSON.stringify(option)}`;
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return `Option ${JSON.stringify(option)} takes no value`;
  }
  return message.split('\n')[0]!;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      simulator: { type: 'boolean' },
      json: { type: 'boolean' },
      progress: { type: 'boolean' },
      heal: { type: 'boolean' },
      'fail-on-discrepancy': { type: 'boolean' },
      'allow-mass-removal': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      'ignore-quota-budget': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
}
