"""OData ``filter`` expressions: a pure parser and evaluator.

The REST sends (``SendToAll``, ``SendToGroup``, ``SendToUser``) and the batch membership operations accept a filter
that narrows the target connections.  This module turns the filter text into a :class:`CompiledFilter` once; the
compiled form is a tree of small closures, so evaluating it for every connection of a fan-out does no parsing.

Grammar (highest precedence first): function call and parentheses, ``not``, comparisons and ``in``, ``and``, ``or``.

Identifiers (names matched case-insensitively): ``userId`` (string or null), ``connectionId`` (string), ``groups``
(collection of strings) and the optional ``protocol`` (string or null).  Keywords and function names are lowercase only.

Semantics chosen here:

* String comparisons are ordinal (by code point) and case-sensitive.
* ``null eq null`` is true, ``null eq 'x'`` is false, ``null ne 'x'`` is true; ``gt``/``ge``/``lt``/``le`` with a
  null operand are false.
* A string or integer function applied to null yields null; ``startswith``/``endswith``/``contains`` with a null
  operand yield false.
* ``substring(s, start[, length])`` is zero-based; a negative ``start`` or ``length`` counts as 0 and values past the
  end are clamped.
* Type errors (for example ``not length(userId) gt 5``, where ``not`` binds to ``length(userId)``) and syntax errors
  raise :class:`FilterError` at parse time.  More than :data:`MAX_CLAUSES` clauses (comparisons, ``in`` tests and
  boolean function calls), nesting deeper than :data:`MAX_DEPTH`, an ``in`` list of more than
  :data:`.limits.MAX_FILTER_LIST_ITEMS` values or a filter longer than :data:`.limits.MAX_FILTER_LENGTH` characters
  is rejected too (so that no filter takes long to parse).
"""

from __future__ import annotations

import enum
import re
from typing import Any, Callable, Collection, List, NoReturn, Optional, Protocol, Tuple

from . import limits
from .errors import BadRequest

__all__ = [
    "MAX_CLAUSES",
    "MAX_DEPTH",
    "CompiledFilter",
    "ConnectionFacts",
    "FilterError",
    "parse_filter",
]

MAX_CLAUSES = limits.MAX_FILTER_CLAUSES
"""The most comparison / ``in`` / boolean-function clauses a filter may contain (``limits.MAX_FILTER_CLAUSES``)."""

MAX_DEPTH = limits.MAX_FILTER_DEPTH
"""The deepest nesting of parentheses, ``not`` and function calls a filter may use (``limits.MAX_FILTER_DEPTH``)."""

_MAX_INT_DIGITS = 18
_SNIPPET = 24


class FilterError(BadRequest, ValueError):
    """A syntax or type error in a filter.  The message is short and safe to return in a 400 body."""


class ConnectionFacts(Protocol):
    """The view of a connection that a filter can see.

    Declared as read-only properties so that plain attributes, properties and frozen dataclasses all conform.  An
    optional ``protocol`` attribute (a string or None) is read when a filter uses the ``protocol`` identifier.
    """

    @property
    def connection_id(self) -> str:
        """The connection id."""
        ...

    @property
    def user_id(self) -> Optional[str]:
        """The user id, or None for an anonymous connection."""
        ...

    @property
    def groups(self) -> Collection[str]:
        """The groups the connection is currently in."""
        ...


_Fn = Callable[[ConnectionFacts], Any]


class _T(enum.Enum):
    BOOL = "boolean"
    STR = "string"
    INT = "integer"
    NULL = "null"
    COLL = "collection"


class _Tok(enum.Enum):
    STR = "string"
    INT = "integer"
    WORD = "word"
    LPAREN = "'('"
    RPAREN = "')'"
    COMMA = "','"
    END = "end of filter"


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^']|'')*')
  | (?P<int>[+-]?[0-9]+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)

_KEYWORDS = frozenset({"and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in", "true", "false", "null"})
_CMP_OPS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_IDENTIFIERS = {"userid": "userId", "connectionid": "connectionId", "groups": "groups", "protocol": "protocol"}


def _snippet(text: str) -> str:
    """Return ``text`` quoted and truncated so that an error message never echoes a large input."""
    if len(text) > _SNIPPET:
        text = text[: _SNIPPET - 3] + "..."
    return repr(text)


class _Token:
    __slots__ = ("kind", "pos", "text", "value")

    def __init__(self, kind: _Tok, text: str, pos: int, value: Any = None) -> None:
        self.kind = kind
        self.text = text
        self.pos = pos
        self.value = value

    def describe(self) -> str:
        if self.kind is _Tok.END:
            return "end of filter"
        return _snippet(self.text)


def _tokenize(text: str) -> List[_Token]:
    tokens: List[_Token] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            if text[pos] == "'":
                raise FilterError(f"unterminated string literal starting at position {pos + 1}")
            raise FilterError(f"unexpected character {_snippet(text[pos])} at position {pos + 1}")
        kind = m.lastgroup
        tok_text = m.group()
        if kind == "str":
            tokens.append(_Token(_Tok.STR, tok_text, pos, tok_text[1:-1].replace("''", "'")))
        elif kind == "int":
            digits = tok_text.lstrip("+-")
            if len(digits) > _MAX_INT_DIGITS:
                raise FilterError(f"integer literal too large at position {pos + 1}")
            tokens.append(_Token(_Tok.INT, tok_text, pos, int(tok_text)))
        elif kind == "word":
            tokens.append(_Token(_Tok.WORD, tok_text, pos))
        elif kind == "punct":
            punct_kind = {"(": _Tok.LPAREN, ")": _Tok.RPAREN, ",": _Tok.COMMA}[tok_text]
            tokens.append(_Token(punct_kind, tok_text, pos))
        pos = m.end()
    tokens.append(_Token(_Tok.END, "", n))
    return tokens


class _Node:
    """A typed, compiled sub-expression: ``fn(conn)`` computes its value; ``const`` is set when it is constant."""

    __slots__ = ("const", "fn", "is_const", "typ")

    def __init__(self, typ: _T, fn: _Fn, *, is_const: bool = False, const: Any = None) -> None:
        self.typ = typ
        self.fn = fn
        self.is_const = is_const
        self.const = const


def _const(typ: _T, value: Any) -> _Node:
    return _Node(typ, lambda _c: value, is_const=True, const=value)


def _user_id(c: ConnectionFacts) -> Optional[str]:
    return c.user_id


def _connection_id(c: ConnectionFacts) -> str:
    return c.connection_id


def _groups(c: ConnectionFacts) -> Collection[str]:
    return c.groups


def _protocol(c: ConnectionFacts) -> Optional[str]:
    value = getattr(c, "protocol", None)
    return value if isinstance(value, str) else None


_IDENT_NODES = {
    "userId": (_T.STR, _user_id),
    "connectionId": (_T.STR, _connection_id),
    "groups": (_T.COLL, _groups),
    "protocol": (_T.STR, _protocol),
}


# ---- function implementations (null in -> null out for string/int results, false for boolean results) ----


def _f_tolower(s: Optional[str]) -> Optional[str]:
    return None if s is None else s.lower()


def _f_toupper(s: Optional[str]) -> Optional[str]:
    return None if s is None else s.upper()


def _f_trim(s: Optional[str]) -> Optional[str]:
    return None if s is None else s.strip()


def _f_concat(a: Optional[str], b: Optional[str]) -> Optional[str]:
    return None if a is None or b is None else a + b


def _f_substring2(s: Optional[str], start: Optional[int]) -> Optional[str]:
    if s is None or start is None:
        return None
    return s[max(start, 0) :]


def _f_substring3(s: Optional[str], start: Optional[int], length: Optional[int]) -> Optional[str]:
    if s is None or start is None or length is None:
        return None
    begin = max(start, 0)
    return s[begin : begin + max(length, 0)]


def _f_startswith(a: Optional[str], b: Optional[str]) -> bool:
    return a is not None and b is not None and a.startswith(b)


def _f_endswith(a: Optional[str], b: Optional[str]) -> bool:
    return a is not None and b is not None and a.endswith(b)


def _f_contains(a: Optional[str], b: Optional[str]) -> bool:
    return a is not None and b is not None and b in a


def _f_indexof(a: Optional[str], b: Optional[str]) -> Optional[int]:
    if a is None or b is None:
        return None
    return a.find(b)


def _f_length(s: Optional[Collection[str]]) -> Optional[int]:
    return None if s is None else len(s)


# name -> list of (parameter types, result type, implementation)
_Sig = Tuple[Tuple[Tuple[_T, ...], ...], _T, Callable[..., Any]]
_FUNCTIONS: dict[str, List[_Sig]] = {
    "tolower": [(((_T.STR,),), _T.STR, _f_tolower)],
    "toupper": [(((_T.STR,),), _T.STR, _f_toupper)],
    "trim": [(((_T.STR,),), _T.STR, _f_trim)],
    "concat": [(((_T.STR,), (_T.STR,)), _T.STR, _f_concat)],
    "substring": [
        (((_T.STR,), (_T.INT,)), _T.STR, _f_substring2),
        (((_T.STR,), (_T.INT,), (_T.INT,)), _T.STR, _f_substring3),
    ],
    "startswith": [(((_T.STR,), (_T.STR,)), _T.BOOL, _f_startswith)],
    "endswith": [(((_T.STR,), (_T.STR,)), _T.BOOL, _f_endswith)],
    "contains": [(((_T.STR,), (_T.STR,)), _T.BOOL, _f_contains)],
    "indexof": [(((_T.STR,), (_T.STR,)), _T.INT, _f_indexof)],
    "length": [(((_T.STR, _T.COLL),), _T.INT, _f_length)],
}


# ---- comparison implementations ----


def _cmp_eq(a: Any, b: Any) -> bool:
    return bool(a == b)


def _cmp_ne(a: Any, b: Any) -> bool:
    return bool(a != b)


def _cmp_gt(a: Any, b: Any) -> bool:
    return a is not None and b is not None and bool(a > b)


def _cmp_ge(a: Any, b: Any) -> bool:
    return a is not None and b is not None and bool(a >= b)


def _cmp_lt(a: Any, b: Any) -> bool:
    return a is not None and b is not None and bool(a < b)


def _cmp_le(a: Any, b: Any) -> bool:
    return a is not None and b is not None and bool(a <= b)


_CMP_IMPL: dict[str, Callable[[Any, Any], bool]] = {
    "eq": _cmp_eq,
    "ne": _cmp_ne,
    "gt": _cmp_gt,
    "ge": _cmp_ge,
    "lt": _cmp_lt,
    "le": _cmp_le,
}


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0
        self.clauses = 0

    # -- helpers --

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind is not _Tok.END:
            self.i += 1
        return tok

    def is_word(self, word: str) -> bool:
        tok = self.tok
        return tok.kind is _Tok.WORD and tok.text == word

    def fail(self, message: str, tok: Optional[_Token] = None) -> NoReturn:
        tok = tok or self.tok
        raise FilterError(f"{message} at position {tok.pos + 1}")

    def unexpected(self, expected: str) -> NoReturn:
        tok = self.tok
        hint = ""
        if tok.kind is _Tok.WORD and tok.text.lower() in _KEYWORDS and tok.text not in _KEYWORDS:
            hint = " (keywords are lowercase)"
        self.fail(f"expected {expected} but found {tok.describe()}{hint}")

    def expect(self, kind: _Tok, expected: str) -> _Token:
        if self.tok.kind is not kind:
            self.unexpected(expected)
        return self.advance()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > limits.MAX_FILTER_DEPTH:
            self.fail(f"filter is nested too deeply (more than {limits.MAX_FILTER_DEPTH} levels)")

    def count_clause(self) -> None:
        self.clauses += 1
        if self.clauses > limits.MAX_FILTER_CLAUSES:
            self.fail(f"filter has more than {limits.MAX_FILTER_CLAUSES} clauses")

    def require_bool(self, node: _Node, what: str, tok: _Token) -> None:
        if node.typ is not _T.BOOL:
            self.fail(f"the operand of '{what}' must be boolean, not {node.typ.value}", tok)

    # -- grammar --

    def parse(self) -> _Node:
        start = self.tok
        node = self.or_expr()
        if self.tok.kind is not _Tok.END:
            self.unexpected("'and', 'or' or end of filter")
        if node.typ is not _T.BOOL:
            self.fail(f"the filter must be a boolean expression, not {node.typ.value}", start)
        return node

    def or_expr(self) -> _Node:
        return self.bool_chain("or", self.and_expr)

    def and_expr(self) -> _Node:
        return self.bool_chain("and", self.comparison)

    def bool_chain(self, word: str, operand: Callable[[], _Node]) -> _Node:
        """``operand (word operand)*`` for ``word`` "or" / "and"; every operand must be boolean."""
        first_tok = self.tok
        nodes = [operand()]
        while self.is_word(word):
            self.advance()
            self.require_bool(nodes[0], word, first_tok)
            operand_tok = self.tok
            node = operand()
            self.require_bool(node, word, operand_tok)
            nodes.append(node)
        if len(nodes) == 1:
            return nodes[0]
        fns = tuple(n.fn for n in nodes)
        if len(fns) == 2:
            a, b = fns
            return _Node(_T.BOOL, (lambda c: a(c) or b(c)) if word == "or" else (lambda c: a(c) and b(c)))
        combine = any if word == "or" else all
        return _Node(_T.BOOL, lambda c: combine(f(c) for f in fns))

    def comparison(self) -> _Node:
        left_tok = self.tok
        left = self.unary()
        tok = self.tok
        if tok.kind is _Tok.WORD and tok.text in _CMP_OPS:
            self.advance()
            self.count_clause()
            right_tok = self.tok
            right = self.unary()
            return self.compile_cmp(tok.text, left, right, left_tok, right_tok)
        if self.is_word("in"):
            self.advance()
            self.count_clause()
            return self.parse_in(left, left_tok)
        return left

    def compile_cmp(self, op: str, left: _Node, right: _Node, left_tok: _Token, right_tok: _Token) -> _Node:
        for node, tok in ((left, left_tok), (right, right_tok)):
            if node.typ is _T.COLL:
                self.fail(f"'{op}' cannot compare a collection", tok)
        lt, rt = left.typ, right.typ
        if lt is not _T.NULL and rt is not _T.NULL and lt is not rt:
            self.fail(f"'{op}' cannot compare {lt.value} with {rt.value}", left_tok)
        if op not in ("eq", "ne") and _T.BOOL in (lt, rt):
            self.fail(f"'{op}' cannot order boolean values", left_tok)
        impl = _CMP_IMPL[op]
        if left.is_const and right.is_const:
            return _const(_T.BOOL, impl(left.const, right.const))
        lf, rf = left.fn, right.fn
        if right.is_const:
            value = right.const
            if op == "eq":
                return _Node(_T.BOOL, lambda c: lf(c) == value)
            if op == "ne":
                return _Node(_T.BOOL, lambda c: lf(c) != value)
            return _Node(_T.BOOL, lambda c: impl(lf(c), value))
        if left.is_const:
            value = left.const
            return _Node(_T.BOOL, lambda c: impl(value, rf(c)))
        return _Node(_T.BOOL, lambda c: impl(lf(c), rf(c)))

    def parse_in(self, left: _Node, left_tok: _Token) -> _Node:
        if left.typ is _T.COLL:
            self.fail("the left operand of 'in' cannot be a collection", left_tok)
        tok = self.tok
        if tok.kind is _Tok.LPAREN:
            self.advance()
            self.enter()
            items: List[Tuple[_Node, _Token]] = []
            while True:
                item_tok = self.tok
                item = self.unary()
                if item.typ is _T.COLL:
                    self.fail("an 'in' list cannot contain a collection", item_tok)
                items.append((item, item_tok))
                if len(items) > limits.MAX_FILTER_LIST_ITEMS:
                    self.fail(f"an 'in' list holds more than {limits.MAX_FILTER_LIST_ITEMS} values", item_tok)
                if self.tok.kind is _Tok.COMMA:
                    self.advance()
                    continue
                self.expect(_Tok.RPAREN, "',' or ')'")
                break
            self.depth -= 1
            return self.compile_in_list(left, left_tok, items)
        if tok.kind is _Tok.WORD and _IDENTIFIERS.get(tok.text.lower()) == "groups":
            self.advance()
            if left.typ not in (_T.STR, _T.NULL):
                self.fail(f"'in groups' needs a string on the left, not {left.typ.value}", left_tok)
            lf = left.fn
            if left.is_const:
                value = left.const
                if value is None:
                    return _const(_T.BOOL, False)
                return _Node(_T.BOOL, lambda c: value in c.groups)

            def in_groups(c: ConnectionFacts) -> bool:
                v = lf(c)
                return v is not None and v in c.groups

            return _Node(_T.BOOL, in_groups)
        self.unexpected("'(' or 'groups' after 'in'")

    def compile_in_list(self, left: _Node, left_tok: _Token, items: List[Tuple[_Node, _Token]]) -> _Node:
        item_type: Optional[_T] = None
        for item, item_tok in items:
            if item.typ is _T.NULL:
                continue
            if item_type is None:
                item_type = item.typ
            elif item.typ is not item_type:
                self.fail(f"an 'in' list mixes {item_type.value} and {item.typ.value} values", item_tok)
        if item_type is not None and left.typ is not _T.NULL and left.typ is not item_type:
            self.fail(f"'in' cannot compare {left.typ.value} with a list of {item_type.value} values", left_tok)
        lf = left.fn
        if all(item.is_const for item, _ in items):
            values = frozenset(item.const for item, _ in items)
            if left.is_const:
                return _const(_T.BOOL, left.const in values)
            return _Node(_T.BOOL, lambda c: lf(c) in values)
        fns = tuple(item.fn for item, _ in items)

        def in_list(c: ConnectionFacts) -> bool:
            v = lf(c)
            return any(v == f(c) for f in fns)

        return _Node(_T.BOOL, in_list)

    def unary(self) -> _Node:
        if self.is_word("not"):
            self.advance()
            self.enter()
            operand_tok = self.tok
            operand = self.unary()
            self.depth -= 1
            if operand.typ is not _T.BOOL:
                self.fail(
                    f"the operand of 'not' must be boolean, not {operand.typ.value} (use parentheses: not (...))",
                    operand_tok,
                )
            if operand.is_const:
                return _const(_T.BOOL, not operand.const)
            f = operand.fn
            return _Node(_T.BOOL, lambda c: not f(c))
        return self.primary()

    def primary(self) -> _Node:
        tok = self.tok
        if tok.kind is _Tok.STR:
            self.advance()
            return _const(_T.STR, tok.value)
        if tok.kind is _Tok.INT:
            self.advance()
            return _const(_T.INT, tok.value)
        if tok.kind is _Tok.LPAREN:
            self.advance()
            self.enter()
            node = self.or_expr()
            self.expect(_Tok.RPAREN, "')'")
            self.depth -= 1
            return node
        if tok.kind is _Tok.WORD:
            word = tok.text
            if word == "true":
                self.advance()
                return _const(_T.BOOL, True)
            if word == "false":
                self.advance()
                return _const(_T.BOOL, False)
            if word == "null":
                self.advance()
                return _const(_T.NULL, None)
            if word in _KEYWORDS:
                self.unexpected("a value")
            if self.tokens[self.i + 1].kind is _Tok.LPAREN:
                return self.call()
            canonical = _IDENTIFIERS.get(word.lower())
            if canonical is None:
                hint = " (keywords are lowercase)" if word.lower() in _KEYWORDS else ""
                self.fail(f"unknown identifier {_snippet(word)}{hint}")
            self.advance()
            typ, fn = _IDENT_NODES[canonical]
            return _Node(typ, fn)
        self.unexpected("a value")

    def call(self) -> _Node:
        name_tok = self.advance()
        name = name_tok.text
        sigs = _FUNCTIONS.get(name)
        if sigs is None:
            hint = " (function names are lowercase)" if name.lower() in _FUNCTIONS else ""
            self.fail(f"unknown function {_snippet(name)}{hint}", name_tok)
        self.advance()  # '('
        self.enter()
        args: List[Tuple[_Node, _Token]] = []
        if self.tok.kind is not _Tok.RPAREN:
            while True:
                arg_tok = self.tok
                args.append((self.or_expr(), arg_tok))
                if self.tok.kind is _Tok.COMMA:
                    self.advance()
                    continue
                break
        self.expect(_Tok.RPAREN, "',' or ')'")
        self.depth -= 1
        sig = next((s for s in sigs if len(s[0]) == len(args)), None)
        if sig is None:
            counts = " or ".join(str(len(s[0])) for s in sigs)
            self.fail(f"'{name}' takes {counts} argument(s), not {len(args)}", name_tok)
        params, result, impl = sig
        for index, ((arg, arg_tok), allowed) in enumerate(zip(args, params)):
            if arg.typ is not _T.NULL and arg.typ not in allowed:
                want = " or ".join(t.value for t in allowed)
                self.fail(f"argument {index + 1} of '{name}' must be {want}, not {arg.typ.value}", arg_tok)
        if result is _T.BOOL:
            self.count_clause()
        fns = tuple(a.fn for a, _ in args)
        if all(a.is_const for a, _ in args):
            return _const(result, impl(*(a.const for a, _ in args)))
        if len(fns) == 1:
            (f0,) = fns
            return _Node(result, lambda c: impl(f0(c)))
        if len(fns) == 2:
            f0, f1 = fns
            return _Node(result, lambda c: impl(f0(c), f1(c)))
        return _Node(result, lambda c: impl(*(f(c) for f in fns)))


class CompiledFilter:
    """A parsed, type-checked filter.  Create it with :func:`parse_filter`; evaluate it with :meth:`matches`."""

    __slots__ = ("_fn", "text")

    def __init__(self, text: str, fn: Callable[[ConnectionFacts], Any]) -> None:
        self.text = text
        self._fn = fn

    def matches(self, conn: ConnectionFacts) -> bool:
        """Return True when the filter selects ``conn``."""
        return bool(self._fn(conn))

    def __repr__(self) -> str:
        return f"CompiledFilter({_snippet(self.text)})"


def parse_filter(text: str) -> CompiledFilter:
    """Parse and type-check ``text``; raise :class:`FilterError` on a syntax or type error."""
    if not isinstance(text, str):
        raise FilterError("Invalid filter: the filter must be a string")
    if not text.strip():
        raise FilterError("Invalid filter: the filter is empty")
    if len(text) > limits.MAX_FILTER_LENGTH:
        raise FilterError(f"Invalid filter: the filter is longer than {limits.MAX_FILTER_LENGTH} characters")
    try:
        node = _Parser(text).parse()
    except FilterError as exc:
        raise FilterError(f"Invalid filter: {exc}") from None
    return CompiledFilter(text, node.fn)
