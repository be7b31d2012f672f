/**
 * Parsing of a Zoho push body: what a Deluge `invokeUrl` can send.
 *
 * Deluge's `invokeUrl` sends a KEY-VALUE `body`/`parameters` as `application/x-www-form-urlencoded`
 * and a TEXT body as `text/plain` unless a `Content-Type` header is given
 * (https://www.zoho.com/deluge/help/webhook/invokeurl-api-task.html; its `content-type` parameter
 * "is not applicable to Zoho Creator", so Creator scripts set the header in `headers` — that the
 * header then wins is [inferred]). So three media types are accepted: `application/json`,
 * `text/plain` (read as JSON) and `application/x-www-form-urlencoded`.
 *
 * Fields (JSON object or form fields): `action` (`created`, `edited` or `deleted`, any case),
 * `record_id` (or `id` / `ID`), optional `event_id` (the record's event, a hint), optional
 * `record` (the record itself: an object in JSON, a JSON string in a form). IDs may be digit
 * strings or bare JSON numbers; numbers beyond 2^53 keep their exact digits (Deluge's
 * `Map.toString()` writes `input.ID` as a bare number — [inferred] from public payloads, see
 * `src/zoho/json.ts`).
 */
import { InvalidInputError, SyncErrorCode } from '../errors.js';
import { parseZohoJson } from '../zoho/json.js';
import { PushRejectedError } from './errors.js';

/** What a push asks for. */
export type PushAction = 'created' | 'edited' | 'deleted';

/** A parsed push. */
export interface PushPayload {
  readonly action: PushAction;
  /** The record ID, 1–19 digits, exact. */
  readonly recordId: string;
  /** The event the sender says the record belongs to (a hint), or `undefined`. */
  readonly eventId: string | undefined;
  /** The record as pushed (IDs as strings), or `undefined`. Used only in trusted mode. */
  readonly record: Readonly<Record<string, unknown>> | undefined;
}

/** The media types a push may use. */
export type PushMediaType = 'application/json' | 'text/plain' | 'application/x-www-form-urlencoded';

const MEDIA_TYPES: readonly PushMediaType[] = ['application/json', 'text/plain', 'application/x-www-form-urlencoded'];
const ACTIONS: readonly PushAction[] = ['created', 'edited', 'deleted'];
const ID = /^\d{1,19}$/;

/**
 * Reads the media type of a `Content-Type` header (parameters such as `charset` ignored).
 *
 * @throws {@link PushRejectedError} `ERR_SYNC_PUSH_CONTENT_TYPE` when it is missing or not one of {@link PushMediaType}.
 */
export function pushMediaType(header: string | string[] | undefined): PushMediaType {
  const value = Array.isArray(header) ? header[0] : header;
  const type = value?.split(';')[0]?.trim().toLowerCase();
  const found = MEDIA_TYPES.find((t) => t === type);
  if (found === undefined) {
    throw new PushRejectedError(
      SyncErrorCode.PUSH_CONTENT_TYPE,
      `Unsupported push Content-Type ${JSON.stringify(value ?? '')}: send application/json, text/plain or application/x-www-form-urlencoded`,
    );
  }
  return found;
}

/**
 * Parses a push body.
 *
 * @param body - the raw body (UTF-8).
 * @param mediaType - from {@link pushMediaType}.
 * @throws {@link InvalidInputError} (400) for invalid JSON, a missing or unknown `action`, a
 *   missing or non-ID `record_id` / `event_id`, a `record` that is not an object, or a repeated form field.
 */
export function parsePushPayload(body: Buffer, mediaType: PushMediaType): PushPayload {
  const text = body.toString('utf8');
  const fields = mediaType === 'application/x-www-form-urlencoded' ? formFields(text) : jsonFields(text);
  const actionValue = fields.action;
  const action = typeof actionValue === 'string' ? ACTIONS.find((a) => a === actionValue.trim().toLowerCase()) : undefined;
  if (action === undefined) {
    throw new InvalidInputError(`Push \`action\` must be one of created, edited, deleted; got ${describe(actionValue)}`);
  }
  const recordId = readId('record_id', fields.record_id ?? fields.id ?? fields.ID);
  if (recordId === undefined) throw new InvalidInputError('Push `record_id` is missing');
  const eventId = readId('event_id', fields.event_id);
  let record = fields.record;
  if (typeof record === 'string' && record !== '') {
    try {
      record = parseZohoJson(record);
    } catch {
      throw new InvalidInputError('Push `record` is not valid JSON');
    }
  }
  if (record === '' || record === null) record = undefined;
  if (record !== undefined && (typeof record !== 'object' || Array.isArray(record))) {
    throw new InvalidInputError('Push `record` must be an object');
  }
  return { action, recordId, eventId, record: record as Record<string, unknown> | undefined };
}

function jsonFields(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = parseZohoJson(text);
  } catch {
    throw new InvalidInputError('Push body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidInputError('Push body must be a JSON object');
  return value as Record<string, unknown>;
}

function formFields(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    if (Object.hasOwn(out, name)) throw new InvalidInputError(`Push form field \`${name}\` is repeated`);
    out[name] = value;
  }
  return out;
}

/** An ID from a digit string or an integer number (a safe one, or the exact digits kept by the JSON parser). */
function readId(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const text = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : typeof value === 'string' ? value.trim() : undefined;
  if (text === undefined || !ID.test(text)) throw new InvalidInputError(`Push \`${name}\` must be a Zoho ID of 1–19 digits, got ${describe(value)}`);
  return text;
}

function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
