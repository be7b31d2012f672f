/**
 * Record layouts of `RedisSink`: where and how records and their per-event index are stored, given
 * as options (key templates, an encoding, an index type), so a backend that already reads its own
 * keys can be fed without code. The default is today's schema, byte for byte.
 *
 * Templates use three placeholders: `<prefix>` (the sink's `keyPrefix`), `<eventId>` and `<id>`
 * (the record ID). The hash-tag rule of Redis Cluster is checked when the sink is built: the hash
 * tag of a key is the text between its first `{` and the first `}` after it
 * (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags); one
 * event's keys must share a slot (one atomic script writes them all), so both templates must have a
 * hash tag, the same one, containing `<eventId>` and not `<id>`.
 *
 * Encodings:
 * - `json` (default): the record is a STRING holding `JSON.stringify(data)` — Zoho's record exactly.
 * - `hash`: the record is a HASH of its top-level fields. A string value is stored as is; every
 *   other value (number, boolean, null, object, array) as its JSON text (`5`, `true`, `null`,
 *   `{"ID":"1"}`). Reading a hash back gives strings only (the types of non-string values are not
 *   recoverable without a schema), so `capabilities.exactRoundTrip` is `false`.
 *
 * Index types:
 * - `hash` (default): a HASH id → modification instant (epoch ms, decimal string).
 * - `set`: a SET of IDs. The staleness check then reads each record's time from the record itself:
 *   the `stampField` hash field, which the sink writes with the modification instant (epoch ms).
 *   A SET index therefore needs the `hash` encoding (a JSON record has no place for the time
 *   without changing Zoho's JSON).
 */
import { ConfigError, InvalidInputError } from '../errors.js';
import { shownValue } from '../internal/shown-value.js';
import { checkNonEmpty, checkTagPart } from './key-schema.js';

/** Options of a record layout (see the module documentation and the README's "Key layouts"). */
export interface RecordLayoutOptions {
  /** Key of one record. Default `<prefix>:{e:<eventId>}:rec:<id>`. */
  readonly recordKey?: string | undefined;
  /** Key of one event's index. Default `<prefix>:{e:<eventId>}:ids`. */
  readonly indexKey?: string | undefined;
  /** How a record is stored: `json` (STRING, default) or `hash` (HASH of top-level fields). */
  readonly encoding?: 'json' | 'hash' | undefined;
  /** The index type: `hash` (id → modification instant, default) or `set` (IDs only). */
  readonly index?: 'hash' | 'set' | undefined;
  /** With `index: 'set'`: the record hash field holding the modification instant (epoch ms). Required then. */
  readonly stampField?: string | undefined;
}

/** A checked layout: key builders plus the encoding and index type. */
export interface RecordLayout {
  readonly encoding: 'json' | 'hash';
  readonly index: 'hash' | 'set';
  /** The stamp field (`index: 'set'` only), else `undefined`. */
  readonly stampField: string | undefined;
  /** Whether this is the default layout (today's key schema). */
  readonly isDefault: boolean;
  /** The key of a record. @throws {@link InvalidInputError} for an unusable event or record ID. */
  recordKey(eventId: string, id: string): string;
  /** The key of an event's index. @throws {@link InvalidInputError} for an unusable event ID. */
  indexKey(eventId: string): string;
  /**
   * The key of a record's tombstone (a STRING holding the deleted version's stamp, epoch ms, with a
   * time-to-live): `<prefix>:{e:<eventId>}:tomb:<id>` with the default key templates, else
   * `<index key>:tomb:<id>`. Either way it carries the event's hash tag, so it lives in the slot of
   * the record and index keys it guards (one atomic script reads them all).
   * @throws {@link InvalidInputError} for an unusable event or record ID.
   */
  tombstoneKey(eventId: string, id: string): string;
}

/** The default record key template (today's schema). */
export const DEFAULT_RECORD_KEY = '<prefix>:{e:<eventId>}:rec:<id>';
/** The default index key template (today's schema). */
export const DEFAULT_INDEX_KEY = '<prefix>:{e:<eventId>}:ids';
/** The tombstone key template of the default key templates. */
export const DEFAULT_TOMBSTONE_KEY = '<prefix>:{e:<eventId>}:tomb:<id>';
const LAYOUT_OPTION_KEYS = ['recordKey', 'indexKey', 'encoding', 'index', 'stampField'];
const PLACEHOLDER = /<(prefix|eventId|id)>/g;

/** The hash-tag part of a template (between its first `{` and the next `}`), or `undefined` when it has none. */
function hashTag(template: string): string | undefined {
  const open = template.indexOf('{');
  if (open < 0) return undefined;
  const close = template.indexOf('}', open + 1);
  if (close <= open + 1) return undefined;
  return template.slice(open + 1, close);
}

function checkTemplate(option: string, template: unknown, needsId: boolean): string {
  if (typeof template !== 'string' || template.length === 0) throw new ConfigError(option, `${option} must be a non-empty key template`);
  if (/\s/.test(template)) throw new ConfigError(option, `${option} ${shownValue(template)} must not contain whitespace`);
  const unknown = template.replace(PLACEHOLDER, '').match(/<[^>]*>/);
  if (unknown) throw new ConfigError(option, `${option} uses an unknown placeholder ${unknown[0]} (known: <prefix>, <eventId>, <id>)`);
  const ids = template.match(/<id>/g)?.length ?? 0;
  if (needsId && ids !== 1) throw new ConfigError(option, `${option} ${shownValue(template)} must contain <id> exactly once (one key per record)`);
  if (!needsId && ids > 0) throw new ConfigError(option, `${option} ${shownValue(template)} must not contain <id> (one index per event)`);
  const tag = hashTag(template);
  if (tag === undefined || !tag.includes('<eventId>')) {
    throw new ConfigError(
      option,
      `${option} ${JSON.stringify(template)} has no hash tag with <eventId> (e.g. "registration:{<eventId>}:<id>"): one event's keys must share a Redis Cluster slot so one atomic script can write them, and without a {…} tag holding the event ID they spread over slots`,
    );
  }
  if (tag.includes('<id>')) {
    throw new ConfigError(option, `${option} ${shownValue(template)} puts <id> inside the hash tag: each record would get its own slot`);
  }
  if (template.indexOf('<id>') >= 0 && template.indexOf('<id>') < template.indexOf('}')) {
    throw new ConfigError(option, `${option} ${shownValue(template)} puts <id> before the hash tag: a record ID could change the tag`);
  }
  return template;
}

/**
 * Refuses a template whose keys would land on the library's own bookkeeping keys under the same
 * prefix (the state store's `<p>:{e:<eventId>}:meta`, `:seen:<scope>`, `:dlq`, every `<p>:{g}:…` and
 * the push inbox's `<p>:{push}:…`): records written there would be counted as records and later
 * "removed", or would overwrite the metadata.
 */
function checkNotStateKey(prefix: string, option: string, template: string): void {
  const sample = template.replace(PLACEHOLDER, (_, name: string) => (name === 'prefix' ? prefix : name === 'eventId' ? '1' : '2'));
  const p = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const reserved = new RegExp(`^${p}:(\\{e:[^}]*\\}:(meta(:fence)?|dlq(:digests)?|seen:.*)|\\{g\\}:.*|\\{push\\}:.*)$`);
  if (reserved.test(sample)) {
    throw new ConfigError(
      option,
      `${option} ${JSON.stringify(template)} makes keys such as ${JSON.stringify(sample)} that the library keeps for its own state (:meta, :seen:<scope>, :dlq, {g}, {push}); choose another key name`,
    );
  }
}

/**
 * Checks layout options and builds the layout.
 *
 * @param prefix - the sink's validated `keyPrefix` (fills `<prefix>`).
 * @throws {@link ConfigError} (option `layout.<name>`) with the reason for an unusable template or combination.
 */
export function createRecordLayout(prefix: string, options: RecordLayoutOptions = {}): RecordLayout {
  if (typeof options !== 'object' || options === null) throw new ConfigError('layout', 'layout must be an object');
  for (const key of Object.keys(options)) {
    if (!LAYOUT_OPTION_KEYS.includes(key)) throw new ConfigError(`layout.${key}`, `Unknown layout option \`${key}\` (expected ${LAYOUT_OPTION_KEYS.join(', ')})`);
  }
  const recordTemplate = checkTemplate('layout.recordKey', options.recordKey ?? DEFAULT_RECORD_KEY, true);
  const indexTemplate = checkTemplate('layout.indexKey', options.indexKey ?? DEFAULT_INDEX_KEY, false);
  if (hashTag(recordTemplate) !== hashTag(indexTemplate)) {
    throw new ConfigError(
      'layout.indexKey',
      `layout.recordKey and layout.indexKey must have the same hash tag ({${hashTag(recordTemplate)}} vs {${hashTag(indexTemplate)}}): one event's record and index keys must share a slot`,
    );
  }
  checkNotStateKey(prefix, 'layout.recordKey', recordTemplate);
  checkNotStateKey(prefix, 'layout.indexKey', indexTemplate);
  const encoding = options.encoding ?? 'json';
  if (encoding !== 'json' && encoding !== 'hash') throw new ConfigError('layout.encoding', `layout.encoding must be 'json' or 'hash', got ${shownValue(encoding)}`);
  const index = options.index ?? 'hash';
  if (index !== 'hash' && index !== 'set') throw new ConfigError('layout.index', `layout.index must be 'hash' or 'set', got ${shownValue(index)}`);
  let stampField: string | undefined;
  if (index === 'set') {
    if (encoding !== 'hash') {
      throw new ConfigError('layout.index', "layout.index 'set' needs layout.encoding 'hash': a SET index keeps no times, so each record hash keeps its own (stampField)");
    }
    if (typeof options.stampField !== 'string' || options.stampField.length === 0) {
      throw new ConfigError('layout.stampField', "layout.index 'set' needs layout.stampField: the record hash field holding the modification instant (epoch ms)");
    }
    stampField = options.stampField;
  } else if (options.stampField !== undefined) {
    throw new ConfigError('layout.stampField', "layout.stampField is used only with layout.index 'set' (a HASH index keeps the times)");
  }
  const render = (template: string, eventId: string, id?: string): string =>
    template.replace(PLACEHOLDER, (_, name: string) => (name === 'prefix' ? prefix : name === 'eventId' ? eventId : (id as string)));
  const tombstoneTemplate = recordTemplate === DEFAULT_RECORD_KEY && indexTemplate === DEFAULT_INDEX_KEY ? DEFAULT_TOMBSTONE_KEY : `${indexTemplate}:tomb:<id>`;
  if (render(tombstoneTemplate, '1', '2') === render(recordTemplate, '1', '2')) {
    throw new ConfigError('layout.recordKey', `layout.recordKey ${shownValue(recordTemplate)} makes the keys the sink keeps for tombstones (<index key>:tomb:<id>); choose another key name`);
  }
  // Keys are built for every record written (two per record): the templates are compiled once into
  // functions of plain concatenation, and an event ID that passed the check is remembered (a bounded
  // set: a sync touches a few hundred events), instead of a regex replace and test per key.
  const checkedEvents = new Set<string>();
  const checkEvent = (eventId: string): string => {
    if (checkedEvents.has(eventId)) return eventId;
    checkTagPart('eventId', eventId);
    if (checkedEvents.size >= 10_000) checkedEvents.clear();
    checkedEvents.add(eventId);
    return eventId;
  };
  const checkId = (id: string): string => (typeof id === 'string' && id.length > 0 ? id : checkNonEmpty('recordId', id));
  const recordKey = compileTemplate(recordTemplate, prefix);
  const indexKey = compileTemplate(indexTemplate, prefix);
  const tombstoneKey = compileTemplate(tombstoneTemplate, prefix);
  return {
    encoding,
    index,
    stampField,
    isDefault: recordTemplate === DEFAULT_RECORD_KEY && indexTemplate === DEFAULT_INDEX_KEY && encoding === 'json' && index === 'hash',
    recordKey: (eventId, id) => recordKey(checkEvent(eventId), checkId(id)),
    indexKey: (eventId) => indexKey(checkEvent(eventId), ''),
    tombstoneKey: (eventId, id) => tombstoneKey(checkEvent(eventId), checkId(id)),
  };
}

/**
 * A template as a function of (eventId, id) that concatenates its literal parts and the values:
 * the same text as replacing each placeholder, `<prefix>` filled in once.
 */
function compileTemplate(template: string, prefix: string): (eventId: string, id: string) => string {
  const parts: (string | 0 | 1)[] = [];
  let last = 0;
  let literal = '';
  for (const match of template.matchAll(PLACEHOLDER)) {
    literal += template.slice(last, match.index);
    last = match.index + match[0].length;
    if (match[1] === 'prefix') literal += prefix;
    else {
      parts.push(literal, match[1] === 'eventId' ? 0 : 1);
      literal = '';
    }
  }
  parts.push(literal + template.slice(last));
  return (eventId, id) => {
    let out = '';
    for (const part of parts) out += part === 0 ? eventId : part === 1 ? id : part;
    return out;
  };
}

/**
 * The HASH fields of a record for the `hash` encoding: top-level strings as is, any other value as
 * its JSON text. Field order is the record's.
 * @throws {@link InvalidInputError} for data that is not an object or a value JSON cannot encode.
 */
export function toHashFields(what: string, data: unknown): string[] {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new InvalidInputError(`${what} must be an object to be stored as a hash`);
  const fields: string[] = [];
  for (const [name, value] of Object.entries(data as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (typeof value === 'string') {
      fields.push(name, value);
      continue;
    }
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch (error) {
      throw new InvalidInputError(`${what} field ${name} cannot be encoded as JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (json === undefined) throw new InvalidInputError(`${what} field ${name} cannot be encoded as JSON`);
    fields.push(name, json);
  }
  return fields;
}
