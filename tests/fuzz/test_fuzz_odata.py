"""The SDK's OData helper (``azure.messaging.webpubsubservice.odata``) against the emulator's parser: a filter built
from arbitrary values (quotes, ``''``, keywords, parentheses, unicode) always parses, and selects exactly the
connections the template means (rest-api.md §6). This is the one place that imports both packages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, FrozenSet, List, Optional

from azure.messaging.webpubsubservice import odata
from fuzz_support import fuzz_settings
from hypothesis import example, given
from hypothesis import strategies as st
from webpubsub_emulator.odata import parse_filter


@dataclass(frozen=True)
class Conn:
    connection_id: str
    user_id: Optional[str]
    groups: FrozenSet[str] = field(default_factory=frozenset)


# Values that try to break out of a literal: quotes, doubled quotes, operators, parentheses, commas, unicode.
TRICKY = st.lists(
    st.sampled_from([*"'\"\\(), \t\nab", "''", " or ", " eq ", "null", ")", "é", "\u0000"]), max_size=12
).map("".join)
VALUES = st.one_of(st.text(max_size=30), TRICKY, st.sampled_from(["", "'", "''", "x' or userId ne 'x", "null", "'"]))


@st.composite
def other_value(draw: Any, base: str) -> str:
    """A value equal to ``base`` or a near miss of it."""
    return draw(
        st.one_of(
            st.just(base),
            st.just(base + "'"),
            st.just("'" + base),
            st.just(base[:-1]),
            st.just(base.replace("'", "''")),
            VALUES,
        )
    )


def _check(text: str, conn: Conn, expected: bool) -> None:
    compiled = parse_filter(text)
    assert compiled.matches(conn) is expected, f"{text!r} on {conn!r}"


@fuzz_settings(max_examples=300)
@given(value=VALUES, data=st.data())
@example(value="x' or userId ne 'x", data=None)
def test_user_id_eq_and_ne(value: str, data: Any) -> None:
    user = data.draw(other_value(value)) if data is not None else "y"
    conn = Conn("c1", user)
    _check(odata("userId eq {}", value), conn, user == value)
    _check(odata("userId ne {}", value), conn, user != value)
    _check(odata("not (userId eq {})", value), conn, user != value)


@fuzz_settings(max_examples=150)
@given(value=VALUES, data=st.data())
def test_ordinal_comparisons(value: str, data: Any) -> None:
    user = data.draw(other_value(value))
    conn = Conn("c1", user)
    _check(odata("userId gt {}", value), conn, user > value)
    _check(odata("userId le {}", value), conn, user <= value)


@fuzz_settings(max_examples=200)
@given(group=VALUES, groups=st.frozensets(VALUES, max_size=4), include=st.booleans())
def test_group_membership(group: str, groups: FrozenSet[str], include: bool) -> None:
    groups = groups | {group} if include else groups - {group}
    conn = Conn("c1", None, groups)
    _check(odata("{} in groups", group), conn, group in groups)
    _check(odata("not ({} in groups)", group), conn, group not in groups)


@fuzz_settings(max_examples=200)
@given(values=st.lists(VALUES, min_size=1, max_size=6), data=st.data())
def test_in_list(values: List[str], data: Any) -> None:
    user = data.draw(st.one_of(st.sampled_from(values), VALUES))
    _check(odata("userId in {}", values), Conn("c1", user), user in values)
    _check(odata("userId in {users}", users=tuple(values)), Conn("c1", user), user in values)


@fuzz_settings(max_examples=200)
@given(prefix=VALUES, data=st.data())
def test_string_functions(prefix: str, data: Any) -> None:
    user = data.draw(st.one_of(other_value(prefix), VALUES.map(lambda s: prefix + s), VALUES.map(lambda s: s + prefix)))
    conn = Conn("c1", user)
    _check(odata("startswith(userId, {})", prefix), conn, user.startswith(prefix))
    _check(odata("endswith(userId, {})", prefix), conn, user.endswith(prefix))
    _check(odata("contains(userId, {})", prefix), conn, prefix in user)


@fuzz_settings(max_examples=200)
@given(user=VALUES, group=VALUES, cid=VALUES, data=st.data())
def test_compound_filters(user: str, group: str, cid: str, data: Any) -> None:
    conn = Conn(
        data.draw(other_value(cid)),
        data.draw(st.one_of(st.none(), other_value(user))),
        frozenset(data.draw(st.lists(other_value(group), max_size=3))),
    )
    text = odata("userId eq {u} and {g} in groups or connectionId eq {c}", u=user, g=group, c=cid)
    expected = (conn.user_id == user and group in conn.groups) or conn.connection_id == cid
    _check(text, conn, expected)


@fuzz_settings(max_examples=100)
@given(number=st.integers(-(10**17), 10**17), user=st.one_of(st.none(), VALUES))
def test_scalars_null_bool_int(number: int, user: Optional[str]) -> None:
    conn = Conn("c1", user)
    _check(odata("userId eq {}", None), conn, user is None)
    _check(odata("userId ne {}", None), conn, user is not None)
    _check(odata("{} eq {}", number, number), conn, True)
    _check(odata("{} lt {}", number, number + 1), conn, True)
    _check(odata("{} eq true", True), conn, True)
    _check(odata("{} eq true", False), conn, False)
