"""Tests for the OData filter parser and evaluator (rest-api.md §6)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import FrozenSet, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st
from webpubsub_emulator.limits import MAX_FILTER_LENGTH
from webpubsub_emulator.odata import MAX_CLAUSES, CompiledFilter, FilterError, parse_filter


@dataclass(frozen=True)
class Conn:
    connection_id: str
    user_id: Optional[str]
    groups: FrozenSet[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class ConnWithProtocol(Conn):
    protocol: Optional[str] = None


U1 = Conn("c1", "user1", frozenset({"group1"}))
U2 = Conn("123", "user2", frozenset({"group2", "group3"}))
U3 = Conn("c3", "user3", frozenset())
UPPER = Conn("c4", "USER1", frozenset({"group1", "group2"}))
QUOTE = Conn("c5", "user'1", frozenset())
ANON = Conn("c6", None, frozenset({"group1"}))
LISTENER = Conn("c7", "listener-7", frozenset({"g"}))
PADDED = Conn("c8", "  spaced  ", frozenset())
ALL = {
    "U1": U1,
    "U2": U2,
    "U3": U3,
    "UPPER": UPPER,
    "QUOTE": QUOTE,
    "ANON": ANON,
    "LISTENER": LISTENER,
    "PADDED": PADDED,
}


def selected(text: str) -> set[str]:
    compiled = parse_filter(text)
    return {name for name, conn in ALL.items() if compiled.matches(conn)}


# Every example from rest-api.md §6, then every operator and function.
CASES = [
    # the documented examples
    ("'group1' in groups or 'group2' in groups or 'group3' in groups", {"U1", "U2", "UPPER", "ANON"}),
    ("userId in ('user1', 'user2', 'user3') and 'group1' in groups", {"U1"}),
    ("userId eq 'user1' and connectionId ne '123'", {"U1"}),
    ("userId eq 'user1' and (not ('group1' in groups))", set()),
    ("not('group1' in groups)", {"U2", "U3", "QUOTE", "LISTENER", "PADDED"}),
    ("userId ne 'user1' and userId ne 'user2'", {"U3", "UPPER", "QUOTE", "ANON", "LISTENER", "PADDED"}),
    ("startswith(userId, 'listener-')", {"LISTENER"}),
    ("tolower(userId) eq 'user1'", {"U1", "UPPER"}),
    ("userId eq 'user''1'", {"QUOTE"}),
    ("userId eq null", {"ANON"}),
    # comparisons: ordinal, case-sensitive
    ("userId eq 'USER1'", {"UPPER"}),
    ("userId ne null", set(ALL) - {"ANON"}),
    ("null eq userId", {"ANON"}),
    ("connectionId eq '123'", {"U2"}),
    ("userId gt 'user2'", {"U3"}),  # "'" sorts before "2"
    ("userId ge 'user2'", {"U2", "U3"}),
    ("userId lt 'user1'", {"UPPER", "QUOTE", "LISTENER", "PADDED"}),
    ("userId le 'USER1'", {"UPPER", "PADDED"}),
    ("userId gt null", set()),
    ("userId lt null", set()),
    ("null eq null", set(ALL)),
    ("null ne null", set()),
    ("'a' lt 'b'", set(ALL)),
    ("'B' lt 'a'", set(ALL)),
    ("1 lt 2", set(ALL)),
    ("-1 lt +1", set(ALL)),
    ("length(userId) ge 10", {"LISTENER", "PADDED"}),
    ("true", set(ALL)),
    ("false", set()),
    ("true eq true", set(ALL)),
    ("('group1' in groups) eq false", {"U2", "U3", "QUOTE", "LISTENER", "PADDED"}),
    # in
    ("userId in ('user1')", {"U1"}),
    ("userId in ('user1', null)", {"U1", "ANON"}),
    ("userId in (null)", {"ANON"}),
    ("connectionId in ('c1', '123', 'zz')", {"U1", "U2"}),
    ("length(userId) in (5, 6)", {"U1", "U2", "U3", "UPPER", "QUOTE"}),
    ("userId in (connectionId, 'user2')", {"U2"}),
    ("tolower(userId) in (tolower('USER1'))", {"U1", "UPPER"}),
    ("'group2' in groups", {"U2", "UPPER"}),
    ("'group2' in GROUPS", {"U2", "UPPER"}),
    ("userId in groups", set()),
    ("null in groups", set()),
    ("concat(userId, '') in groups", set()),
    # identifier names are case-insensitive
    ("USERID eq 'user1'", {"U1"}),
    ("UserId eq 'user1' and ConnectionID eq 'c1'", {"U1"}),
    # precedence: not > comparison > and > or
    ("userId eq 'user1' or userId eq 'user2' and connectionId eq 'nope'", {"U1"}),
    ("(userId eq 'user1' or userId eq 'user2') and connectionId eq '123'", {"U2"}),
    ("not true eq false", set(ALL)),
    ("not false and false", set()),
    ("not (length(userId) gt 5)", {"U1", "U2", "U3", "UPPER", "ANON"}),  # null gt 5 is false
    ("not not ('group1' in groups)", {"U1", "UPPER", "ANON"}),
    ("((((userId eq 'user1'))))", {"U1"}),
    # string functions
    ("toupper(userId) eq 'USER1'", {"U1", "UPPER"}),
    ("trim(userId) eq 'spaced'", {"PADDED"}),
    ("concat(userId, connectionId) eq 'user1c1'", {"U1"}),
    ("concat(concat(userId, '-'), connectionId) eq 'user2-123'", {"U2"}),
    ("substring(userId, 4) eq '1'", {"U1", "UPPER"}),
    ("substring(userId, 0, 4) eq 'user'", {"U1", "U2", "U3", "QUOTE"}),
    ("substring(userId, 1, 2) eq 'se'", {"U1", "U2", "U3", "QUOTE"}),
    ("substring(userId, 100) eq ''", set(ALL) - {"ANON"}),
    ("substring(userId, -3, 2) eq 'us'", {"U1", "U2", "U3", "QUOTE"}),
    ("substring(userId, 2, -1) eq ''", set(ALL) - {"ANON"}),
    ("endswith(userId, '1')", {"U1", "UPPER", "QUOTE"}),
    ("contains(userId, 'ner')", {"LISTENER"}),
    ("contains(userId, '')", set(ALL) - {"ANON"}),
    ("indexof(userId, 'er') eq 2", {"U1", "U2", "U3", "QUOTE"}),
    ("indexof(userId, 'zzz') eq -1", set(ALL) - {"ANON"}),
    ("length(userId) eq 5", {"U1", "U2", "U3", "UPPER"}),
    ("length(groups) eq 2", {"U2", "UPPER"}),
    ("length(groups) eq 0", {"U3", "QUOTE", "PADDED"}),
    ("length('abc') eq 3", set(ALL)),
    ("startswith('abc', 'ab')", set(ALL)),
    # null semantics: functions of a null userId never crash
    ("tolower(userId) eq null", {"ANON"}),
    ("length(userId) eq null", {"ANON"}),
    ("indexof(userId, 'u') eq null", {"ANON"}),
    ("concat(userId, 'x') eq null", {"ANON"}),
    ("substring(userId, 1) eq null", {"ANON"}),
    ("trim(toupper(userId)) eq null", {"ANON"}),
    ("startswith(userId, 'u') eq false", {"UPPER", "LISTENER", "PADDED", "ANON"}),
    ("contains(userId, null)", set()),
    ("length(userId) gt -1", set(ALL) - {"ANON"}),
    ("tolower(null) eq null", set(ALL)),
    # literals
    ("userId eq ''''", set()),
    ("'it''s' eq concat('it', '''s')", set(ALL)),
    ("userId eq ' user1'", set()),
    ("length('') eq 0", set(ALL)),
    # whitespace is flexible
    ("  userId   eq\t'user1'\n", {"U1"}),
    ("userId eq 'user1'and connectionId eq 'c1'", {"U1"}),
    ("startswith( userId ,'user' )", {"U1", "U2", "U3", "QUOTE"}),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_filter_selects(text: str, expected: set[str]) -> None:
    assert selected(text) == expected


def test_protocol_identifier_is_optional() -> None:
    compiled = parse_filter("protocol eq 'json.webpubsub.azure.v1'")
    assert compiled.matches(ConnWithProtocol("c", None, frozenset(), "json.webpubsub.azure.v1"))
    assert not compiled.matches(ConnWithProtocol("c", None, frozenset(), None))
    assert not compiled.matches(U1)  # no protocol attribute at all
    assert parse_filter("protocol eq null").matches(U1)


def test_groups_may_be_any_collection() -> None:
    compiled = parse_filter("'b' in groups and length(groups) eq 2")
    assert compiled.matches(Conn("c", "u", ["a", "b"]))  # type: ignore[arg-type]
    assert not compiled.matches(Conn("c", "u", ("a", "c")))  # type: ignore[arg-type]


def test_matches_returns_bool() -> None:
    assert parse_filter("'group1' in groups or false").matches(U1) is True
    assert parse_filter("userId in ('x')").matches(U1) is False
    assert isinstance(parse_filter("true"), CompiledFilter)


ERRORS = [
    # type errors
    ("not length(userId) gt 5", "'not' must be boolean"),
    ("not 'group1' in groups", "'not' must be boolean"),
    ("userId", "must be a boolean"),
    ("length(groups)", "must be a boolean"),
    ("null", "must be a boolean"),
    ("'x'", "must be a boolean"),
    ("userId and true", "'and' must be boolean"),
    ("true and userId", "'and' must be boolean"),
    ("true or 1", "'or' must be boolean"),
    ("userId eq 1", "cannot compare"),
    ("length(userId) eq 'x'", "cannot compare"),
    ("true eq 'true'", "cannot compare"),
    ("groups eq null", "collection"),
    ("groups in ('a')", "collection"),
    ("userId in ('a', groups)", "collection"),
    ("userId in ('a', 1)", "mixes"),
    ("userId in (1, 2)", "cannot compare"),
    ("1 in groups", "needs a string"),
    ("true gt false", "cannot order"),
    ("tolower(1) eq '1'", "argument 1 of 'tolower'"),
    ("substring(userId, '1') eq ''", "argument 2 of 'substring'"),
    ("tolower(groups) eq 'x'", "argument 1 of 'tolower'"),
    ("startswith(userId, true)", "argument 2 of 'startswith'"),
    ("length(1) eq 1", "argument 1 of 'length'"),
    # arity
    ("tolower() eq ''", "takes 1 argument"),
    ("tolower(userId, userId) eq ''", "takes 1 argument"),
    ("substring(userId) eq ''", "takes 2 or 3 argument"),
    ("substring(userId, 1, 2, 3) eq ''", "takes 2 or 3 argument"),
    ("concat('a') eq 'a'", "takes 2 argument"),
    # syntax errors
    ("", "empty"),
    ("   ", "empty"),
    ("userId eq", "expected a value but found end of filter"),
    ("userId eq 'user1' and", "end of filter"),
    ("userId eq 'user1' or or userId eq 'x'", "expected a value"),
    ("userId eq 'a' eq 'b'", "expected 'and', 'or' or end of filter"),
    ("(userId eq 'a'", "expected ')'"),
    ("userId eq 'a')", "expected 'and', 'or' or end of filter"),
    ("userId eq 'unterminated", "unterminated string literal"),
    ("userId eq 'a''", "unterminated string literal"),
    ('userId eq "a"', "unexpected character"),
    ("userId == 'a'", "unexpected character"),
    ("userId eq 1.5", "unexpected character"),
    ("userId in 'a'", "'(' or 'groups' after 'in'"),
    ("userId in ()", "expected a value"),
    ("userId in ('a',)", "expected a value"),
    ("userId in ('a' 'b')", "expected ',' or ')'"),
    ("userId in groups2", "'(' or 'groups' after 'in'"),
    ("foo eq 'a'", "unknown identifier 'foo'"),
    ("userid.x eq 'a'", "unexpected character"),
    ("nosuchfn(userId) eq 'a'", "unknown function 'nosuchfn'"),
    ("123456789012345678901234567890 eq 1", "integer literal too large"),
    # keywords and functions are lowercase only
    ("userId EQ 'a'", "keywords are lowercase"),
    ("userId eq 'a' AND true", "keywords are lowercase"),
    ("NOT true", "keywords are lowercase"),
    ("userId eq NULL", "keywords are lowercase"),
    ("TOLOWER(userId) eq 'a'", "function names are lowercase"),
    ("StartsWith(userId, 'a')", "function names are lowercase"),
]


@pytest.mark.parametrize(("text", "fragment"), ERRORS, ids=[e[0] or "<empty>" for e in ERRORS])
def test_filter_errors(text: str, fragment: str) -> None:
    with pytest.raises(FilterError) as info:
        parse_filter(text)
    message = str(info.value)
    assert fragment in message
    assert message.startswith("Invalid filter: ")
    assert isinstance(info.value, ValueError)


def test_error_names_the_position() -> None:
    with pytest.raises(FilterError, match=r"at position 5\b"):
        parse_filter("not length(userId) gt 5")
    with pytest.raises(FilterError, match=r"'EQ' \(keywords are lowercase\) at position 8"):
        parse_filter("userId EQ 'a'")


def test_error_never_echoes_huge_input() -> None:
    huge = "x" * 100_000
    for text in (f"{huge} eq 'a'", f"userId eq '{huge}' {huge}", f"userId eq '{huge}", f"{huge}(userId)"):
        with pytest.raises(FilterError) as info:
            parse_filter(text)
        assert len(str(info.value)) < 200


def test_clause_limit() -> None:
    ok = " or ".join(f"userId eq 'u{i}'" for i in range(MAX_CLAUSES))
    assert parse_filter(ok).matches(Conn("c", "u99"))
    too_many = " or ".join(f"userId eq 'u{i}'" for i in range(MAX_CLAUSES + 1))
    with pytest.raises(FilterError, match="more than 100 clauses"):
        parse_filter(too_many)
    mixed = " and ".join(["'g' in groups", "userId in ('a', 'b')", "startswith(userId, 'a')"] * 34)
    with pytest.raises(FilterError, match="more than 100 clauses"):
        parse_filter(mixed)


def test_big_in_list_is_one_clause() -> None:
    values = ", ".join(f"'u{i}'" for i in range(5000))
    compiled = parse_filter(f"userId in ({values})")
    assert compiled.matches(Conn("c", "u4999"))
    assert not compiled.matches(Conn("c", "u5000"))


@pytest.mark.parametrize("depth", [60, 1000, 100_000])
def test_deep_nesting_is_a_filter_error(depth: int) -> None:
    for text in (
        "(" * depth + "true" + ")" * depth,
        "not " * depth + "true",
        "tolower(" * depth + "userId" + ")" * depth + " eq 'a'",
    ):
        # a filter too long to be worth parsing is refused before its depth is looked at
        with pytest.raises(FilterError, match="nested too deeply" if len(text) <= MAX_FILTER_LENGTH else "longer than"):
            parse_filter(text)


def test_moderate_nesting_is_fine() -> None:
    assert parse_filter("(" * 40 + "userId eq 'user1'" + ")" * 40).matches(U1)
    assert parse_filter("not " * 40 + "true").matches(U1)


def test_evaluation_is_fast() -> None:
    compiled = parse_filter("(userId eq 'user1' or 'group2' in groups) and not startswith(connectionId, 'x')")
    conns = [Conn(f"c{i}", f"user{i % 10}", frozenset({f"group{i % 3}"})) for i in range(20_000)]
    start = time.perf_counter()
    hits = sum(1 for c in conns if compiled.matches(c))
    elapsed = time.perf_counter() - start
    assert hits == sum(1 for c in conns if c.user_id == "user1" or "group2" in c.groups)
    assert elapsed < 2.0


def quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@given(st.text(max_size=40), st.text(max_size=40))
def test_quoted_values_round_trip(value: str, other: str) -> None:
    compiled = parse_filter(f"userId eq {quote(value)}")
    assert compiled.matches(Conn("c", value))
    assert compiled.matches(Conn("c", other)) == (other == value)
    assert not compiled.matches(Conn("c", None))
    in_groups = parse_filter(f"{quote(value)} in groups")
    assert in_groups.matches(Conn("c", None, frozenset({value})))
    assert in_groups.matches(Conn("c", None, frozenset({other}))) == (other == value)


@given(st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=8), st.text(max_size=10))
def test_in_list_round_trip(values: list[str], probe: str) -> None:
    compiled = parse_filter(f"userId in ({', '.join(quote(v) for v in values)})")
    assert compiled.matches(Conn("c", probe)) == (probe in values)
