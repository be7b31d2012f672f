/**
 * Parser and evaluator for Zoho Creator criteria strings, as sent in the `criteria` query parameter
 * of Get Records.
 *
 * Supported syntax (API notes §4): `<field> <op> <literal>` with `==, !=, <, <=, >, >=`, joined with
 * `&&` / `||` (`&&` binds tighter), parentheses, double-quoted strings (`\"` and `\\` escapes),
 * single-quoted date (`'15-Mar-2024'`) or date-time (`'15-Mar-2024 17:03:09'`) literals in the app's
 * format, numbers (bare integers compare against IDs, e.g. `Event == 4433256000000100003`),
 * `true`/`false`/`null`, and dotted sub-fields (`Event.ID`, `Event.display_value`).
 *
 * [inferred] semantics (not documented by Zoho):
 * - a date-only literal against a date-time field compares by local calendar day in the app zone
 *   (`== '15-Mar-2024'` matches the whole day, `<= '15-Mar-2024'` includes it);
 * - a string literal against a lookup compares the lookup's display value;
 * - a single-quoted literal that is neither a date nor a date-time in the app's format is an error.
 */
import { compareIds } from './dataset.js';
import { ZohoTime } from './zoho-time.js';

/** A criteria string could not be parsed or does not fit the report; the simulator answers 400/2901. */
export class CriteriaError extends Error {
  override readonly name = 'CriteriaError';
  /** 0-based character offset where the problem was found (−1 when not positional). */
  readonly position: number;
  constructor(message: string, position = -1) {
    super(message);
    this.position = position;
  }
}

/** Comparison operators. */
export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

/** A literal on the right-hand side of a comparison. */
export type CriteriaLiteral =
  | { readonly type: 'number'; readonly text: string; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'null' }
  /** Date-only literal: ISO date plus the local start of that day and of the next day (epoch ms). */
  | { readonly type: 'date'; readonly text: string; readonly iso: string; readonly start: number; readonly end: number }
  /** Date-time literal parsed in the app zone (ambiguous → earlier instant, gap → shifted forward). */
  | { readonly type: 'dateTime'; readonly text: string; readonly instant: number };

/** A parsed criteria expression. */
export type CriteriaNode =
  | { readonly type: 'and' | 'or'; readonly left: CriteriaNode; readonly right: CriteriaNode }
  | { readonly type: 'compare'; readonly field: string; readonly op: CompareOp; readonly value: CriteriaLiteral };

/**
 * How a report exposes one field (path) to criteria:
 * - `id`: digit-string IDs compared numerically;
 * - `lookup`: `get` returns the referenced ID (`''` when empty), `display` its display value;
 * - `instant`: epoch ms (date-time fields, `Added_Time`, `Modified_Time`);
 * - `dynamic`: any {@link SimFieldValue}-like value, compared by its runtime type.
 */
export type CriteriaField<R> =
  | { readonly kind: 'id'; get(record: R): string }
  | { readonly kind: 'lookup'; get(record: R): string; display(record: R): string }
  | { readonly kind: 'instant'; get(record: R): number }
  | { readonly kind: 'dynamic'; get(record: R): unknown };

/** Resolves a field path (e.g. `Event.ID`) to its accessor, or `undefined` for an unknown field. */
export type CriteriaSchema<R> = (path: string) => CriteriaField<R> | undefined;

/** A compiled criteria predicate. */
export type CriteriaPredicate<R> = (record: R) => boolean;

type Token =
  | { readonly kind: 'field'; readonly text: string; readonly pos: number }
  | { readonly kind: 'op'; readonly text: CompareOp; readonly pos: number }
  | { readonly kind: 'and' | 'or' | 'lparen' | 'rparen'; readonly pos: number }
  | { readonly kind: 'literal'; readonly value: CriteriaLiteral; readonly pos: number };

const FIELD_RE = /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/y;
const NUMBER_RE = /-?\d+(?:\.\d+)?/y;

function tokenize(text: string, time: ZohoTime): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '&&' || two === '||') {
      tokens.push({ kind: two === '&&' ? 'and' : 'or', pos: i });
      i += 2;
      continue;
    }
    if (two === '==' || two === '!=' || two === '<=' || two === '>=') {
      tokens.push({ kind: 'op', text: two, pos: i });
      i += 2;
      continue;
    }
    if (ch === '<' || ch === '>') {
      tokens.push({ kind: 'op', text: ch, pos: i });
      i++;
      continue;
    }
    if (ch === '(' || ch === ')') {
      tokens.push({ kind: ch === '(' ? 'lparen' : 'rparen', pos: i });
      i++;
      continue;
    }
    if (ch === '"') {
      let value = '';
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        value += text[j];
      }
      if (j >= text.length) throw new CriteriaError('Unterminated string literal', i);
      tokens.push({ kind: 'literal', value: { type: 'string', value }, pos: i });
      i = j + 1;
      continue;
    }
    if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new CriteriaError('Unterminated date literal', i);
      tokens.push({ kind: 'literal', value: parseDateLiteral(text.slice(i + 1, end), time, i), pos: i });
      i = end + 1;
      continue;
    }
    NUMBER_RE.lastIndex = i;
    const number = NUMBER_RE.exec(text);
    if (number) {
      tokens.push({ kind: 'literal', value: { type: 'number', text: number[0], value: Number(number[0]) }, pos: i });
      i += number[0].length;
      continue;
    }
    FIELD_RE.lastIndex = i;
    const field = FIELD_RE.exec(text);
    if (field) {
      const word = field[0];
      if (word === 'true' || word === 'false') {
        tokens.push({ kind: 'literal', value: { type: 'boolean', value: word === 'true' }, pos: i });
      } else if (word === 'null') {
        tokens.push({ kind: 'literal', value: { type: 'null' }, pos: i });
      } else {
        tokens.push({ kind: 'field', text: word, pos: i });
      }
      i += word.length;
      continue;
    }
    throw new CriteriaError(`Unexpected character ${JSON.stringify(ch)}`, i);
  }
  return tokens;
}

function parseDateLiteral(text: string, time: ZohoTime, pos: number): CriteriaLiteral {
  const instant = time.parseDateTime(text);
  if (instant !== undefined) return { type: 'dateTime', text, instant };
  const iso = time.parseDate(text);
  if (iso !== undefined) {
    return { type: 'date', text, iso, start: time.startOfDay(iso), end: time.startOfDay(ZohoTime.nextIsoDate(iso)) };
  }
  throw new CriteriaError(
    `'${text}' is neither a date (${time.dateFormat}) nor a date-time (${time.dateTimeFormat})`,
    pos,
  );
}

/**
 * Parses a criteria string. Date literals are read with `time` (the app's format and zone).
 * Throws {@link CriteriaError} on malformed input. An empty or blank string is an error too; callers
 * treat an absent/blank `criteria` parameter as "no criteria" before calling this.
 */
export function parseCriteria(text: string, time: ZohoTime): CriteriaNode {
  const tokens = tokenize(text, time);
  let index = 0;
  const peek = (): Token | undefined => tokens[index];
  const fail = (message: string): never => {
    throw new CriteriaError(message, peek()?.pos ?? text.length);
  };

  const parseOr = (): CriteriaNode => {
    let left = parseAnd();
    while (peek()?.kind === 'or') {
      index++;
      left = { type: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): CriteriaNode => {
    let left = parsePrimary();
    while (peek()?.kind === 'and') {
      index++;
      left = { type: 'and', left, right: parsePrimary() };
    }
    return left;
  };
  const parsePrimary = (): CriteriaNode => {
    const token = peek();
    if (!token) return fail('Unexpected end of criteria');
    if (token.kind === 'lparen') {
      index++;
      const inner = parseOr();
      if (peek()?.kind !== 'rparen') fail('Expected )');
      index++;
      return inner;
    }
    if (token.kind !== 'field') return fail('Expected a field name');
    index++;
    const op = peek();
    if (op?.kind !== 'op') return fail('Expected a comparison operator');
    index++;
    const literal = peek();
    if (literal?.kind !== 'literal') return fail('Expected a value');
    index++;
    return { type: 'compare', field: token.text, op: op.text, value: literal.value };
  };

  const node = parseOr();
  if (index < tokens.length) fail('Unexpected input after criteria');
  return node;
}

function holds(op: CompareOp, order: number): boolean {
  switch (op) {
    case '==':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    default:
      return order >= 0;
  }
}

const DIGITS_RE = /^-?\d+$/;

/** The canonical digit string of an integer literal usable against an ID, or `undefined`. */
function idOf(literal: CriteriaLiteral): string | undefined {
  const text = literal.type === 'number' ? literal.text : literal.type === 'string' ? literal.value.trim() : undefined;
  if (text === undefined || !DIGITS_RE.test(text) || text.startsWith('-')) return undefined;
  return BigInt(text).toString();
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Instant field against a date-only literal: compares by local day ([inferred]). */
function instantAgainstDay(op: CompareOp, t: number, start: number, end: number): boolean {
  switch (op) {
    case '==':
      return t >= start && t < end;
    case '!=':
      return t < start || t >= end;
    case '<':
      return t < start;
    case '<=':
      return t < end;
    case '>':
      return t >= end;
    default:
      return t >= start;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Compares a value of unknown type (a {@link SimFieldValue}) with a literal. */
function compareDynamic(value: unknown, op: CompareOp, literal: CriteriaLiteral, time: ZohoTime): boolean {
  if (value === undefined || value === null || value === '') {
    const literalIsEmpty = literal.type === 'null' || (literal.type === 'string' && literal.value === '');
    if (op === '==') return literalIsEmpty;
    if (op === '!=') return !literalIsEmpty;
    return false;
  }
  if (literal.type === 'null') return op === '!=';
  if (Array.isArray(value)) {
    // Multi-select: `==` means "contains" ([inferred]).
    const contains = value.some((item) => compareDynamic(item, '==', literal, time));
    if (op === '==') return contains;
    if (op === '!=') return !contains;
    return false;
  }
  if (isRecord(value)) {
    if (typeof value.dateTime === 'number') return compareInstant(value.dateTime, op, literal);
    if (typeof value.date === 'string') {
      const iso = value.date;
      if (literal.type === 'date') return holds(op, compareText(iso, literal.iso));
      if (literal.type === 'dateTime') return holds(op, time.startOfDay(iso) - literal.instant);
      return false;
    }
    return false;
  }
  if (typeof value === 'boolean') {
    const wanted =
      literal.type === 'boolean' ? literal.value : literal.type === 'string' ? literal.value.toLowerCase() === 'true' : undefined;
    if (wanted === undefined) return false;
    if (op === '==') return value === wanted;
    if (op === '!=') return value !== wanted;
    return false;
  }
  if (typeof value === 'number' || (typeof value === 'string' && literal.type === 'number')) {
    const n = typeof value === 'number' ? value : Number(value);
    const m = literal.type === 'number' ? literal.value : literal.type === 'string' ? Number(literal.value) : Number.NaN;
    if (Number.isNaN(n) || Number.isNaN(m)) return op === '!=';
    return holds(op, n - m);
  }
  if (typeof value === 'string') {
    if (literal.type === 'string') return holds(op, compareText(value, literal.value));
    if (literal.type === 'boolean') return holds(op, compareText(value, String(literal.value)));
    if (literal.type === 'date' || literal.type === 'dateTime') return holds(op, compareText(value, literal.text));
    return false;
  }
  return false;
}

function compareInstant(t: number, op: CompareOp, literal: CriteriaLiteral): boolean {
  if (literal.type === 'dateTime') return holds(op, t - literal.instant);
  if (literal.type === 'date') return instantAgainstDay(op, t, literal.start, literal.end);
  if (literal.type === 'null') return op === '!=';
  return false;
}

function compileCompare<R>(
  node: Extract<CriteriaNode, { type: 'compare' }>,
  schema: CriteriaSchema<R>,
  time: ZohoTime,
): CriteriaPredicate<R> {
  const field = schema(node.field);
  if (!field) throw new CriteriaError(`Unknown field ${node.field}`);
  const { op, value: literal } = node;
  switch (field.kind) {
    case 'id': {
      const id = idOf(literal);
      if (id === undefined) throw new CriteriaError(`${node.field} must be compared with an integer ID`);
      return (record) => holds(op, compareIds(field.get(record), id));
    }
    case 'lookup': {
      const id = idOf(literal);
      if (id !== undefined) {
        return (record) => {
          const current = field.get(record);
          if (current === '') return op === '!=';
          return holds(op, compareIds(current, id));
        };
      }
      if (literal.type === 'null') return (record) => (field.get(record) === '') === (op === '==');
      if (literal.type === 'string') {
        const wanted = literal.value;
        return (record) => holds(op, compareText(field.display(record), wanted));
      }
      throw new CriteriaError(`${node.field} must be compared with an ID or a display value`);
    }
    case 'instant': {
      if (literal.type !== 'date' && literal.type !== 'dateTime' && literal.type !== 'null') {
        throw new CriteriaError(`${node.field} must be compared with a date or date-time literal in single quotes`);
      }
      return (record) => compareInstant(field.get(record), op, literal);
    }
    default:
      return (record) => compareDynamic(field.get(record), op, literal, time);
  }
}

/**
 * Compiles a parsed expression against a report's schema into a predicate. Throws
 * {@link CriteriaError} when a field is unknown to `schema` or a literal cannot apply to its field.
 */
export function compileCriteria<R>(node: CriteriaNode, schema: CriteriaSchema<R>, time: ZohoTime): CriteriaPredicate<R> {
  if (node.type === 'compare') return compileCompare(node, schema, time);
  const left = compileCriteria(node.left, schema, time);
  const right = compileCriteria(node.right, schema, time);
  return node.type === 'and' ? (record) => left(record) && right(record) : (record) => left(record) || right(record);
}

/**
 * The set of values an ID-like field must take for the expression to hold, derived from `==`
 * comparisons with integer literals on any of `fieldPaths` (e.g. `['Event', 'Event.ID']`): for
 * `Event == 1 || Event == 2` it is {1, 2}; for `Event == 1 && Amount > 3` it is {1}. `undefined`
 * when the expression does not restrict the field (the caller then scans everything).
 */
export function requiredIds(node: CriteriaNode, fieldPaths: readonly string[]): Set<string> | undefined {
  if (node.type === 'compare') {
    if (node.op !== '==' || !fieldPaths.includes(node.field)) return undefined;
    const id = idOf(node.value);
    return id === undefined ? undefined : new Set([id]);
  }
  const left = requiredIds(node.left, fieldPaths);
  const right = requiredIds(node.right, fieldPaths);
  if (node.type === 'or') {
    if (!left || !right) return undefined;
    return new Set([...left, ...right]);
  }
  if (left && right) return new Set([...left].filter((id) => right.has(id)));
  return left ?? right;
}

/**
 * The smallest instant a record can have in `field` and still match `node`, when the criteria
 * bound it from below (`field >= t`, `field > t`, possibly inside `&&`s, or on both sides of an
 * `||`); `undefined` otherwise. Used to narrow candidates with an index, never to decide a match.
 *
 * @param field - the field path (e.g. `Modified_Time`).
 * @returns epoch ms, or `undefined`.
 */
export function instantLowerBound(node: CriteriaNode, field: string): number | undefined {
  if (node.type === 'compare') {
    if (node.field !== field || (node.op !== '>=' && node.op !== '>')) return undefined;
    if (node.value.type === 'dateTime') return node.value.instant;
    // A date-only literal compares against the local day: its start bounds both `>=` and `>`.
    if (node.value.type === 'date') return node.value.start;
    return undefined;
  }
  const left = instantLowerBound(node.left, field);
  const right = instantLowerBound(node.right, field);
  if (node.type === 'or') return left === undefined || right === undefined ? undefined : Math.min(left, right);
  if (left === undefined) return right;
  return right === undefined ? left : Math.max(left, right);
}
