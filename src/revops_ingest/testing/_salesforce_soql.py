r"""The subset of SOQL that :class:`SalesforceEmulator` understands.

Grammar (keywords and field names ignore case, as in SOQL)::

    SELECT <field, ... | COUNT()> FROM <object>
        [WHERE <condition>]
        [ORDER BY <field> [ASC|DESC] [NULLS FIRST|LAST], ...]
        [LIMIT n] [OFFSET n]

    condition := term (AND term)* | term (OR term)*
    term      := NOT term | '(' condition ')' | field op literal
               | field [NOT] IN '(' literal, ... ')' | field LIKE 'pattern'

A field is ``Name`` or one parent hop such as ``Owner.Name``. Literals are quoted
strings (``\\'`` escapes), numbers, ``true``/``false``/``null``, dates
(``2024-05-01``) and unquoted datetimes (``2024-05-01T00:00:00Z``, with optional
fractional seconds and a ``+hh:mm``/``-hh:mm`` offset). As in SOQL, ``AND`` and
``OR`` may not be mixed without parentheses.

Parsing knows nothing about objects; :func:`compile_where` and :func:`sort_rows`
take a resolver from field names to :class:`ResolvedField` (type and getter), and
reject literals of the wrong type as Salesforce does (``MALFORMED_QUERY``).
Everything else Salesforce supports but this emulator does not (aggregates, GROUP
BY, subqueries, date literals such as ``TODAY``, bind variables, ``TYPEOF``,
``FIELDS()``...) is answered with ``MALFORMED_QUERY``.
"""

from __future__ import annotations

import datetime as dt
import re
import typing

import attrs


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Sequence


__all__ = [
    "And",
    "Comparison",
    "Condition",
    "InList",
    "Like",
    "Literal",
    "Not",
    "Or",
    "OrderItem",
    "Query",
    "ResolvedField",
    "SoqlError",
    "compile_where",
    "parse_datetime",
    "parse_soql",
    "sort_rows",
]


class SoqlError(Exception):
    """A query Salesforce would refuse, with its ``errorCode``.

    Attributes:
        error_code: ``MALFORMED_QUERY``, ``INVALID_FIELD`` or ``INVALID_TYPE``.
        message: The message for the error body.
    """

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message


def _malformed(message: str) -> SoqlError:
    return SoqlError("MALFORMED_QUERY", message)


# ---------------------------------------------------------------- AST

LiteralKind: typing.TypeAlias = typing.Literal[
    "string", "number", "boolean", "null", "date", "datetime"
]


@attrs.frozen
class Literal:
    """A literal value in a condition.

    Attributes:
        kind: What the literal was written as.
        value: The Python value: str, int/float, bool, None, date or aware datetime.
    """

    kind: LiteralKind
    value: typing.Any


@attrs.frozen
class Comparison:
    """``field <op> literal`` with op one of ``= != < <= > >=``."""

    field: str
    op: str
    value: Literal


@attrs.frozen
class InList:
    """``field [NOT] IN (literal, ...)``."""

    field: str
    values: tuple[Literal, ...]
    negated: bool = False


@attrs.frozen
class Like:
    """``field LIKE 'pattern'`` (``%`` any run, ``_`` one character)."""

    field: str
    pattern: str


@attrs.frozen
class Not:
    """``NOT condition``."""

    item: Condition


@attrs.frozen
class And:
    """All of the items."""

    items: tuple[Condition, ...]


@attrs.frozen
class Or:
    """Any of the items."""

    items: tuple[Condition, ...]


Condition: typing.TypeAlias = "Comparison | InList | Like | Not | And | Or"


@attrs.frozen
class OrderItem:
    """One ``ORDER BY`` key.

    Attributes:
        field: The field as written.
        descending: ``DESC``.
        nulls_first: Where nulls go; SOQL's default is first for ASC, last for DESC.
    """

    field: str
    descending: bool = False
    nulls_first: bool | None = None

    @property
    def effective_nulls_first(self) -> bool:
        """Whether nulls sort first, after SOQL's defaults."""
        if self.nulls_first is None:
            return not self.descending
        return self.nulls_first


@attrs.frozen
class Query:
    """A parsed SOQL query.

    Attributes:
        fields: The selected fields as written (empty for ``COUNT()``).
        count: Whether the query is ``SELECT COUNT() ...``.
        sobject: The object name as written.
        where: The condition, if any.
        order_by: The sort keys.
        limit: ``LIMIT``, if any.
        offset: ``OFFSET``, if any.
    """

    fields: tuple[str, ...]
    count: bool
    sobject: str
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None


# ---------------------------------------------------------------- tokens

# SOQL wants Z or +hh:mm / -hh:mm; "+0000" (the REST output form) is refused.
_DATETIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})"
_TOKEN = re.compile(
    rf"""
    (?P<ws>\s+)
  | (?P<datetime>{_DATETIME})(?![\w:.])
  | (?P<baddatetime>\d{{4}}-\d{{2}}-\d{{2}}T[^\s),]*)
  | (?P<date>\d{{4}}-\d{{2}}-\d{{2}})(?![\w:])
  | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))(?![\w.])
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)

_ESCAPES = {
    "'": "'",
    '"': '"',
    "\\": "\\",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    # Kept escaped so that LIKE can tell a literal % or _ from a wildcard.
    "%": "\\%",
    "_": "\\_",
}

_KEYWORDS = frozenset(
    {
        "select",
        "from",
        "where",
        "order",
        "by",
        "asc",
        "desc",
        "nulls",
        "first",
        "last",
        "limit",
        "offset",
        "and",
        "or",
        "not",
        "in",
        "like",
        "includes",
        "excludes",
        "group",
        "having",
        "with",
        "for",
        "using",
        "typeof",
        "true",
        "false",
        "null",
    }
)


@attrs.frozen
class _Token:
    kind: str
    text: str
    pos: int

    @property
    def keyword(self) -> str | None:
        if self.kind == "ident" and self.text.lower() in _KEYWORDS:
            return self.text.lower()
        return None


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _malformed(
                f"unexpected token: '{text[pos : pos + 10].split(maxsplit=1)[0]}'"
            )
        kind = match.lastgroup
        assert kind is not None
        if kind == "baddatetime":
            raise _malformed(
                f"line 1:{pos} invalid date-time literal '{match.group()}': SOQL "
                "wants YYYY-MM-DDThh:mm:ss[.sss](Z|+hh:mm|-hh:mm), unquoted"
            )
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    return tokens


def _unquote(token: _Token) -> str:
    body = token.text[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            escaped = body[i + 1]
            if escaped not in _ESCAPES:
                raise _malformed(
                    f"Invalid string literal '{token.text}'. Illegal escape"
                )
            out.append(_ESCAPES[escaped])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


_DATETIME_PARTS = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:(Z)|([+-])(\d{2}):?(\d{2}))?$"
)


def parse_datetime(text: str, *, require_zone: bool = True) -> dt.datetime:
    """Parse an ISO 8601 datetime as SOQL and the REST API write them.

    ``2024-05-01T12:00:00Z``, ``...T12:00:00.123Z``, ``...T12:00:00+02:00`` and
    ``...T12:00:00.000+0000`` are understood; the result is an aware UTC datetime.
    Without *require_zone*, a datetime without offset is taken as UTC.

    Raises:
        ValueError: The text is not such a datetime.
    """
    match = _DATETIME_PARTS.match(text)
    if match is None:
        raise ValueError(f"not a datetime: {text!r}")
    year, month, day, hour, minute, second, frac, zulu, sign, oh, om = match.groups()
    if not zulu and not sign and require_zone:
        raise ValueError(f"datetime without a time zone: {text!r}")
    micro = int((frac or "0")[:6].ljust(6, "0"))
    offset = dt.timedelta(0)
    if sign:
        offset = dt.timedelta(hours=int(oh), minutes=int(om))
        if sign == "-":
            offset = -offset
    value = dt.datetime(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        int(second),
        micro,
        tzinfo=dt.timezone(offset),
    )
    return value.astimezone(dt.timezone.utc)


def _literal(token: _Token) -> Literal:
    if token.kind == "string":
        return Literal("string", _unquote(token))
    if token.kind == "number":
        text = token.text
        is_float = "." in text
        return Literal("number", float(text) if is_float else int(text))
    if token.kind == "date":
        try:
            return Literal("date", dt.date.fromisoformat(token.text))
        except ValueError:
            raise _malformed(
                f"line 1:{token.pos} no viable alternative at character '{token.text}'"
            ) from None
    if token.kind == "datetime":
        try:
            return Literal("datetime", parse_datetime(token.text))
        except ValueError:
            raise _malformed(
                f"line 1:{token.pos} no viable alternative at character '{token.text}'"
            ) from None
    keyword = token.keyword
    if keyword in {"true", "false"}:
        return Literal("boolean", keyword == "true")
    if keyword == "null":
        return Literal("null", None)
    if token.kind == "ident":
        # Date literals (TODAY, LAST_N_DAYS:n...) and bare words are not supported.
        raise _malformed(f"unexpected token: '{token.text}'")
    raise _malformed(f"unexpected token: '{token.text}'")


# ---------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    # -- token helpers

    def peek(self, ahead: int = 0) -> _Token | None:
        index = self.pos + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self) -> _Token:
        token = self.peek()
        if token is None:
            raise _malformed("unexpected end of query")
        self.pos += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.keyword in words

    def expect_keyword(self, word: str) -> None:
        token = self.next()
        if token.keyword != word:
            raise _malformed(f"unexpected token: '{token.text}'")

    def expect_punct(self, char: str) -> None:
        token = self.next()
        if token.kind != "punct" or token.text != char:
            raise _malformed(f"unexpected token: '{token.text}'")

    def field_name(self) -> str:
        token = self.next()
        if token.kind != "ident" or token.keyword is not None:
            raise _malformed(f"unexpected token: '{token.text}'")
        return token.text

    def integer(self) -> int:
        token = self.next()
        if token.kind != "number" or not token.text.isdigit():
            raise _malformed(f"unexpected token: '{token.text}'")
        return int(token.text)

    # -- grammar

    def query(self) -> Query:
        self.expect_keyword("select")
        fields, count = self.select_list()
        self.expect_keyword("from")
        sobject = self.field_name()
        if "." in sobject:
            raise _malformed(f"unexpected token: '{sobject}'")
        where = None
        if self.at_keyword("where"):
            self.next()
            where = self.condition()
        order_by: tuple[OrderItem, ...] = ()
        if self.at_keyword("order"):
            self.next()
            self.expect_keyword("by")
            order_by = self.order_list()
        limit = offset = None
        if self.at_keyword("limit"):
            self.next()
            limit = self.integer()
        if self.at_keyword("offset"):
            self.next()
            offset = self.integer()
        token = self.peek()
        if token is not None:
            raise _malformed(f"unexpected token: '{token.text}'")
        return Query(
            fields=tuple(fields),
            count=count,
            sobject=sobject,
            where=where,
            order_by=order_by,
            limit=limit,
            offset=offset,
        )

    def select_list(self) -> tuple[list[str], bool]:
        token = self.peek()
        nxt = self.peek(1)
        if (
            token is not None
            and token.kind == "ident"
            and token.text.lower() == "count"
            and nxt is not None
            and nxt.text == "("
        ):
            self.pos += 2
            closing = self.next()
            if closing.text != ")":
                raise _malformed(
                    "aggregate functions other than COUNT() are not supported "
                    "by this emulator"
                )
            return [], True
        fields = [self.select_item()]
        while (token := self.peek()) is not None and token.text == ",":
            self.next()
            fields.append(self.select_item())
        return fields, False

    def select_item(self) -> str:
        token = self.next()
        if token.kind == "punct" and token.text == "(":
            raise _malformed("subqueries are not supported by this emulator")
        if token.kind != "ident" or token.keyword is not None:
            raise _malformed(f"unexpected token: '{token.text}'")
        following = self.peek()
        if following is not None and following.text == "(":
            raise _malformed(
                f"function {token.text}() is not supported by this emulator"
            )
        return token.text

    def order_list(self) -> tuple[OrderItem, ...]:
        items = [self.order_item()]
        while (token := self.peek()) is not None and token.text == ",":
            self.next()
            items.append(self.order_item())
        return tuple(items)

    def order_item(self) -> OrderItem:
        field = self.field_name()
        descending = False
        nulls_first: bool | None = None
        if self.at_keyword("asc", "desc"):
            descending = self.next().keyword == "desc"
        if self.at_keyword("nulls"):
            self.next()
            token = self.next()
            if token.keyword not in {"first", "last"}:
                raise _malformed(f"unexpected token: '{token.text}'")
            nulls_first = token.keyword == "first"
        return OrderItem(field, descending, nulls_first)

    def condition(self) -> Condition:
        items = [self.term()]
        connector: str | None = None
        while self.at_keyword("and", "or"):
            word = self.next().keyword
            if connector is not None and word != connector:
                # SOQL insists on parentheses when AND and OR are mixed.
                raise _malformed(f"unexpected token: '{word.upper() if word else ''}'")
            connector = word
            items.append(self.term())
        if connector is None:
            return items[0]
        return And(tuple(items)) if connector == "and" else Or(tuple(items))

    def term(self) -> Condition:
        if self.at_keyword("not"):
            self.next()
            return Not(self.term())
        token = self.peek()
        if token is not None and token.kind == "punct" and token.text == "(":
            self.next()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.simple()

    def simple(self) -> Condition:
        field = self.field_name()
        token = self.next()
        if token.kind == "op":
            op = "!=" if token.text == "<>" else token.text
            return Comparison(field, op, _literal(self.next()))
        keyword = token.keyword
        if keyword == "not" and self.at_keyword("in"):
            self.next()
            return InList(field, self.literal_list(), negated=True)
        if keyword == "in":
            return InList(field, self.literal_list())
        if keyword == "like":
            pattern = self.next()
            if pattern.kind != "string":
                raise _malformed(f"unexpected token: '{pattern.text}'")
            return Like(field, _unquote(pattern))
        if keyword in {"includes", "excludes"}:
            raise _malformed(f"{keyword.upper()} is not supported by this emulator")
        raise _malformed(f"unexpected token: '{token.text}'")

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect_punct("(")
        token = self.peek()
        if token is not None and token.keyword == "select":
            raise _malformed("semi-join subqueries are not supported by this emulator")
        values = [_literal(self.next())]
        while (token := self.peek()) is not None and token.text == ",":
            self.next()
            values.append(_literal(self.next()))
        self.expect_punct(")")
        return tuple(values)


def parse_soql(text: str) -> Query:
    """Parse *text* into a :class:`Query`.

    Raises:
        SoqlError: ``MALFORMED_QUERY`` for syntax this subset does not accept.
    """
    if not text or not text.strip():
        raise _malformed("A query string has to be specified")
    return _Parser(text).query()


# ---------------------------------------------------------------- evaluation

Row: typing.TypeAlias = "typing.Mapping[str, typing.Any]"

_STRING_TYPES = frozenset(
    {
        "string",
        "picklist",
        "textarea",
        "url",
        "email",
        "phone",
        "combobox",
        "encryptedstring",
    }
)
_ID_TYPES = frozenset({"id", "reference"})
_NUMBER_TYPES = frozenset({"int", "double", "currency", "percent", "long"})
_SOAP_NAMES = {
    "datetime": "dateTime",
    "date": "date",
    "boolean": "boolean",
    "int": "int",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "long": "long",
    "id": "id",
    "reference": "id",
}


@attrs.frozen
class ResolvedField:
    """A field of the queried object, as the evaluator needs it.

    Attributes:
        name: The canonical name, such as ``Owner.Name``.
        type: The describe ``type`` (``string``, ``datetime``, ``currency``...).
        getter: Reads the field's Python value from a stored record.
        filterable: Whether the field may appear in WHERE.
        sortable: Whether the field may appear in ORDER BY.
    """

    name: str
    type: str
    getter: Callable[[Row], typing.Any]
    filterable: bool = True
    sortable: bool = True


Resolver: typing.TypeAlias = "Callable[[str], ResolvedField]"
R = typing.TypeVar("R", bound="typing.Mapping[str, typing.Any]")
Predicate: typing.TypeAlias = "Callable[[Row], bool]"


def _type_error(field: ResolvedField) -> SoqlError:
    expected = _SOAP_NAMES.get(field.type, "string")
    if field.type in _STRING_TYPES | _ID_TYPES:
        return _malformed(
            f"value of filter criterion for field '{field.name}' must be of type "
            f"{expected} and should be enclosed in quotes"
        )
    return _malformed(
        f"value of filter criterion for field '{field.name}' must be of type "
        f"{expected} and should not be enclosed in quotes"
    )


def _normalize_id(value: str) -> str:
    return value[:15] if len(value) in {15, 18} else value


def _literal_kind(field_type: str) -> LiteralKind | None:
    """Return the literal kind a field of *field_type* is compared with."""
    if field_type in _STRING_TYPES | _ID_TYPES:
        return "string"
    if field_type in _NUMBER_TYPES:
        return "number"
    if field_type in {"boolean", "date", "datetime"}:
        return typing.cast("LiteralKind", field_type)
    return None


def _coerce(field: ResolvedField, literal: Literal) -> typing.Any:
    """Check *literal* against the field's type; return the comparable value."""
    if literal.kind == "null":
        return None
    expected = _literal_kind(field.type)
    if expected is None:
        raise _malformed(
            f"field '{field.name}' of type {field.type} can not be filtered"
        )
    if literal.kind != expected:
        raise _type_error(field)
    if field.type in _ID_TYPES:
        return _normalize_id(literal.value)
    if field.type in _STRING_TYPES:
        return typing.cast("str", literal.value).casefold()
    return literal.value


def _comparable_getter(field: ResolvedField) -> Callable[[Row], typing.Any]:
    getter = field.getter
    if field.type in _STRING_TYPES:

        def folded(row: Row) -> typing.Any:
            value = getter(row)
            return None if value is None else str(value).casefold()

        return folded
    if field.type in _ID_TYPES:

        def ident(row: Row) -> typing.Any:
            value = getter(row)
            return None if value is None else _normalize_id(str(value))

        return ident
    return getter


_ORDERING: dict[str, Callable[[typing.Any, typing.Any], bool]] = {
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}


def _compile_comparison(node: Comparison, resolve: Resolver) -> Predicate:
    field = _filterable(resolve(node.field))
    value = _coerce(field, node.value)
    get = _comparable_getter(field)
    op = node.op
    if op == "=":
        return lambda row: get(row) == value
    if op == "!=":
        return lambda row: get(row) != value
    if field.type == "boolean":
        raise _malformed(f"invalid operator on boolean field '{field.name}': {op}")
    if value is None:
        return lambda _row: False
    compare = _ORDERING[op]

    def ordered(row: Row) -> bool:
        current = get(row)
        return current is not None and compare(current, value)

    return ordered


def _like_regex(pattern: str) -> re.Pattern[str]:
    pieces: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_":
            pieces.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "%":
            pieces.append(".*")
        elif char == "_":
            pieces.append(".")
        else:
            pieces.append(re.escape(char))
        i += 1
    return re.compile("".join(pieces), re.IGNORECASE | re.DOTALL)


def _filterable(field: ResolvedField) -> ResolvedField:
    if not field.filterable:
        raise SoqlError(
            "INVALID_FIELD",
            f"field '{field.name}' can not be filtered in a query call",
        )
    return field


def _compile_in(node: InList, resolve: Resolver) -> Predicate:
    field = _filterable(resolve(node.field))
    values = {_coerce(field, literal) for literal in node.values}
    get = _comparable_getter(field)
    if node.negated:
        return lambda row: get(row) not in values
    return lambda row: get(row) in values


def _compile_like(node: Like, resolve: Resolver) -> Predicate:
    field = _filterable(resolve(node.field))
    if field.type not in _STRING_TYPES | _ID_TYPES:
        raise _malformed(
            f"invalid operator on field '{field.name}' of type {field.type}: LIKE"
        )
    regex = _like_regex(node.pattern)
    getter = field.getter

    def like(row: Row) -> bool:
        value = getter(row)
        return value is not None and regex.fullmatch(str(value)) is not None

    return like


def _compile(node: Condition, resolve: Resolver) -> Predicate:
    if isinstance(node, Comparison):
        return _compile_comparison(node, resolve)
    if isinstance(node, InList):
        return _compile_in(node, resolve)
    if isinstance(node, Like):
        return _compile_like(node, resolve)
    if isinstance(node, Not):
        inner = _compile(node.item, resolve)
        return lambda row: not inner(row)
    parts = [_compile(item, resolve) for item in node.items]
    if isinstance(node, And):
        return lambda row: all(part(row) for part in parts)
    return lambda row: any(part(row) for part in parts)


def compile_where(condition: Condition | None, resolve: Resolver) -> Predicate:
    """Turn *condition* into a predicate over stored records.

    Raises:
        SoqlError: A field is unknown (from *resolve*), cannot be filtered, or is
            compared with a literal of the wrong type.
    """
    if condition is None:
        return lambda _row: True
    return _compile(condition, resolve)


def _sort_key(
    get: Callable[[Row], typing.Any], *, nulls_high: bool
) -> Callable[[Row], tuple[bool, typing.Any]]:
    def key(row: Row) -> tuple[bool, typing.Any]:
        value = get(row)
        if value is None:
            return (nulls_high, None)
        return (not nulls_high, value)

    return key


def sort_rows(
    rows: Sequence[R], order_by: Sequence[OrderItem], resolve: Resolver
) -> list[R]:
    """Return *rows* sorted as ``ORDER BY`` says (text ignores case, as in SOQL).

    Raises:
        SoqlError: A field is unknown or cannot be sorted.
    """
    keys: list[tuple[Callable[[Row], typing.Any], OrderItem]] = []
    for item in order_by:
        field = resolve(item.field)
        if not field.sortable:
            raise SoqlError(
                "INVALID_FIELD",
                f"field '{field.name}' can not be sorted in a query call",
            )
        keys.append((_comparable_getter(field), item))
    result = list(rows)
    for get, item in reversed(keys):
        # Stable sorts from the last key to the first give a lexicographic order.
        # With reverse=True the flag sorts descending too, hence the xor.
        nulls_high = item.effective_nulls_first == item.descending
        result.sort(key=_sort_key(get, nulls_high=nulls_high), reverse=item.descending)
    return result
