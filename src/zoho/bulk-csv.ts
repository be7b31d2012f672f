/**
 * Turns a row of a Bulk Read CSV back into the JSON record Get Records v2.1 sends for it, so that
 * a bulk listing and a paged listing store byte-identical records in Redis.
 *
 * A CSV cell is text; the JSON has types. Zoho documents neither the CSV's cell formats nor the
 * report's field types in the bulk API, so the shape of each field is learned from a small JSON
 * sample of the same report (one Get Records call, `max_records=200`):
 * - a string field stays the cell's text (dates and date-times: the CSV uses the app's
 *   `date_format` as JSON does — [inferred]);
 * - a number field is parsed as the JSON parser would (integers beyond 2^53 stay digit strings);
 * - a decision box becomes `true`/`false` (the CSV writes `true`/`false` — [inferred]);
 * - a multi-select becomes the `,`-separated values — [inferred]; a sample value holding a comma
 *   makes the field unrebuildable;
 * - the event lookup: the cell holds the looked-up event's ID — [inferred] (Deluge types a single
 *   lookup as the looked-up record's ID, https://www.zoho.com/deluge/help/creator-field-datatype.html;
 *   Zoho's bulk pages do not say). The JSON's `display_value` / `zc_display_value` are not in the
 *   CSV: they are taken from the events report (the list the run reads anyway), from the event
 *   field whose value the sample's display values equal (e.g. `Event_Name`);
 * - an empty cell becomes the empty value the paged JSON gives that field: the one the sample
 *   showed for it (`""`, `null`, `[]`). The CSV writes `null` and `""` alike (an empty cell), so
 *   where the sample showed the field empty both ways, or never, the empty value is the one the
 *   sample's other fields of the same type show (when they agree), else Zoho's for the type:
 *   `""` for text and lookups, `[]` for lists (shared notes §5, [inferred]: the API docs give no
 *   empty values), `null` for JSON numbers and booleans ([inferred]). A field the sample showed
 *   empty both ways therefore cannot be rebuilt exactly for every row: one of the two is chosen.
 * Fields whose JSON cannot be rebuilt from a cell (other lookups, Name/Address objects, subforms)
 * make the shape unusable for full records: the caller then lists page by page.
 */
import { isInteger, isSafeNumber } from 'lossless-json';
import { isPlainObject } from './http-client.js';

/** How one field's JSON value is rebuilt from its cell. */
type FieldKind = 'string' | 'number' | 'boolean' | 'list' | 'event-lookup' | 'bare-lookup';

interface FieldShape {
  kind: FieldKind;
  /** The JSON value of an empty cell, when the sample showed one. */
  empty: unknown;
  /** Whether `empty` was seen in the sample. */
  emptySeen: boolean;
  /** Whether a non-empty value fixed `kind`. */
  typed: boolean;
  /** The empty values the sample showed for the field (`null`, `""`, `[]`, by their JSON text). */
  empties?: Set<string>;
}

/** The event lookup's JSON object layout: its keys in order and, per display key, the event field it shows. */
interface LookupLayout {
  readonly keys: readonly string[];
  readonly sources: ReadonlyMap<string, string>;
}

/** Why a sample cannot give a usable shape. */
export class BulkShapeError extends Error {
  override readonly name = 'BulkShapeError';
}

/**
 * The learned shape of a report's records (see the module notes). Build it with
 * {@link BulkRecordShape.learn}; {@link toRecord} then maps a CSV row to a JSON record.
 */
export class BulkRecordShape {
  private constructor(
    private readonly order: readonly string[],
    private readonly fields: ReadonlyMap<string, FieldShape>,
    private readonly lookupField: string,
    private readonly lookup: LookupLayout | undefined,
  ) {}

  /**
   * Learns the shape from JSON sample rows of the same report (`field_config=all`).
   *
   * @param sample - rows as Get Records returned them (IDs as strings).
   * @param eventLookupField - the registration's lookup field pointing at its event.
   * @param events - the events report's rows by ID (for the lookup's display values).
   * @throws BulkShapeError when a field's JSON cannot be rebuilt from CSV text.
   */
  static learn(
    sample: readonly unknown[],
    eventLookupField: string,
    events: ReadonlyMap<string, Readonly<Record<string, unknown>>>,
  ): BulkRecordShape {
    const order: string[] = [];
    const fields = new Map<string, FieldShape>();
    let lookupKeys: string[] | undefined;
    let candidates: Map<string, Set<string>> | undefined;
    for (const raw of sample) {
      if (!isPlainObject(raw)) continue;
      for (const [name, value] of Object.entries(raw)) {
        let shape = fields.get(name);
        if (shape === undefined) {
          order.push(name);
          shape = { kind: 'string', empty: undefined, emptySeen: false, typed: false };
          fields.set(name, shape);
        }
        if (isEmptyValue(value)) {
          shape.empties ??= new Set();
          shape.empties.add(JSON.stringify(value));
          continue;
        }
        const kind = kindOf(name, value, eventLookupField);
        if (shape.typed && shape.kind !== kind) throw new BulkShapeError(`field ${name} holds values of several types in the sample`);
        shape.kind = kind;
        shape.typed = true;
        if (kind === 'list' && (value as unknown[]).some((v) => typeof v !== 'string' || v.includes(','))) {
          throw new BulkShapeError(`multi-select field ${name} holds a value that is not a comma-free string`);
        }
        if (kind === 'event-lookup') {
          const lookup = value as Record<string, unknown>;
          const keys = Object.keys(lookup);
          if (lookupKeys === undefined) lookupKeys = keys;
          else if (keys.join('\u0000') !== lookupKeys.join('\u0000')) throw new BulkShapeError(`lookup ${name} has several layouts`);
          const event = events.get(String(lookup.ID));
          if (event === undefined) continue;
          const seen = new Map<string, Set<string>>();
          for (const key of keys) {
            if (key === 'ID') continue;
            const matches = new Set<string>();
            for (const [field, fieldValue] of Object.entries(event)) {
              if (typeof fieldValue === 'string' && fieldValue === lookup[key]) matches.add(field);
            }
            seen.set(key, matches);
          }
          if (candidates === undefined) candidates = seen;
          else for (const [key, set] of candidates) for (const f of set) if (!seen.get(key)?.has(f)) set.delete(f);
        }
      }
    }
    let lookup: LookupLayout | undefined;
    if (lookupKeys !== undefined) {
      const sources = new Map<string, string>();
      for (const key of lookupKeys) {
        if (key === 'ID') continue;
        const found = candidates?.get(key);
        const first = found === undefined ? undefined : [...found][0];
        if (first === undefined) {
          throw new BulkShapeError(`no events field gives the ${eventLookupField}.${key} values of the sample`);
        }
        sources.set(key, first);
      }
      lookup = { keys: lookupKeys, sources };
    }
    resolveEmpties(fields);
    return new BulkRecordShape(order, fields, eventLookupField, lookup);
  }

  /**
   * The JSON record of one CSV row: keys in the sample's order (CSV-only columns after them), the
   * event lookup rebuilt from `events`.
   *
   * @param header - the CSV header row (field link names).
   * @param cells - one CSV row, same length as `header`.
   * @param events - the events report's rows by ID.
   */
  toRecord(
    header: readonly string[],
    cells: readonly string[],
    events: ReadonlyMap<string, Readonly<Record<string, unknown>>>,
  ): Record<string, unknown> {
    const plan = this.planFor(header);
    const out: Record<string, unknown> = {};
    for (const i of plan) out[header[i]!] = this.value(header[i]!, cells[i] ?? '', events);
    return out;
  }

  /** The header's column indexes in output order (learned field order, then the header's other columns), per header. */
  private planFor(header: readonly string[]): readonly number[] {
    if (this.plan !== undefined && this.plan.header === header) return this.plan.columns;
    const index = new Map<string, number>();
    // A name twice in the header: the later cell wins, as it did when cells were looked up by name.
    for (let i = 0; i < header.length; i++) index.set(header[i]!, i);
    const columns: number[] = [];
    const placed = new Set<string>();
    for (const name of this.order) {
      const i = index.get(name);
      if (i === undefined) continue;
      columns.push(i);
      placed.add(name);
    }
    for (const name of header) {
      if (placed.has(name)) continue;
      columns.push(index.get(name)!);
      placed.add(name);
    }
    this.plan = { header, columns };
    return columns;
  }

  private plan: { readonly header: readonly string[]; readonly columns: readonly number[] } | undefined;

  private value(name: string, cell: string, events: ReadonlyMap<string, Readonly<Record<string, unknown>>>): unknown {
    const shape = this.fields.get(name);
    if (shape === undefined) return cell;
    if (cell === '') return shape.emptySeen ? cloneEmpty(shape.empty) : defaultEmpty(shape.kind);
    switch (shape.kind) {
      case 'number':
        return isInteger(cell) && !isSafeNumber(cell) ? cell : Number(cell);
      case 'boolean':
        return cell === 'true';
      case 'list':
        return cell.split(',');
      case 'event-lookup': {
        if (this.lookup === undefined || name !== this.lookupField) return cell;
        const event = events.get(cell);
        const value: Record<string, unknown> = {};
        for (const key of this.lookup.keys) {
          if (key === 'ID') value.ID = cell;
          else {
            const field = this.lookup.sources.get(key);
            const shown = field === undefined ? undefined : event?.[field];
            value[key] = typeof shown === 'string' ? shown : '';
          }
        }
        return value;
      }
      default:
        return cell;
    }
  }
}

function kindOf(name: string, value: unknown, eventLookupField: string): FieldKind {
  if (typeof value === 'number') return 'number';
  if (typeof value === 'boolean') return 'boolean';
  if (Array.isArray(value)) return 'list';
  if (isPlainObject(value)) {
    if (name === eventLookupField && 'ID' in value) return 'event-lookup';
    throw new BulkShapeError(`field ${name} holds an object, which the bulk CSV cannot carry`);
  }
  if (name === eventLookupField) return 'bare-lookup';
  return 'string';
}

/**
 * Fixes each field's empty value (see the module notes): its own, when the sample showed exactly
 * one; else its type's, when the sample's other fields of that type showed exactly one; else the
 * type's default. Sets `emptySeen` on every field.
 */
function resolveEmpties(fields: ReadonlyMap<string, FieldShape>): void {
  const byKind = new Map<FieldKind, Set<string>>();
  for (const shape of fields.values()) {
    if (!shape.typed || shape.empties?.size !== 1) continue;
    const forms = byKind.get(shape.kind) ?? new Set<string>();
    byKind.set(shape.kind, forms);
    for (const f of shape.empties) forms.add(f);
  }
  for (const shape of fields.values()) {
    const own = shape.empties;
    const typeForms = shape.typed ? byKind.get(shape.kind) : undefined;
    const form = own?.size === 1 ? [...own][0]! : typeForms?.size === 1 ? [...typeForms][0]! : undefined;
    shape.empty = form === undefined ? defaultEmpty(shape.kind) : (JSON.parse(form) as unknown);
    shape.emptySeen = true;
  }
}

function isEmptyValue(value: unknown): boolean {
  return value === null || value === '' || (Array.isArray(value) && value.length === 0);
}

function cloneEmpty(value: unknown): unknown {
  return Array.isArray(value) ? [] : value;
}

/** An empty cell of a field the sample never showed empty: `""` for text and lookups, `[]` for lists, `null` otherwise — [inferred]. */
function defaultEmpty(kind: FieldKind): unknown {
  if (kind === 'list') return [];
  if (kind === 'number' || kind === 'boolean') return null;
  return '';
}
