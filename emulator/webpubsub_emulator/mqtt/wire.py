"""MQTT data representations (MQTT 5.0 §1.5, 3.1.1 §1.5): 1-, 2- and 4-byte integers, Variable Byte Integers,
UTF-8 strings, binary data and string pairs, read by :class:`Reader` and written by the ``write_*`` functions.

Every reading problem raises :class:`~.errors.MqttError` (malformed); writing a value that does not fit raises
``ValueError`` (a bug in the caller, never client input).
"""

from __future__ import annotations

import struct
from typing import Optional, Tuple, Union

from .errors import MqttError

__all__ = [
    "MAX_VBI",
    "Reader",
    "read_vbi_prefix",
    "write_binary",
    "write_pair",
    "write_u16",
    "write_u32",
    "write_utf8",
    "write_vbi",
]

MAX_VBI = 268_435_455
"""The largest Variable Byte Integer (four bytes of seven bits)."""

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


def read_vbi_prefix(data: Union[bytes, bytearray], offset: int) -> Optional[Tuple[int, int]]:
    """Read a Variable Byte Integer at ``offset``: ``(value, bytes used)``, or None when ``data`` ends first.

    Non-minimal encodings are accepted; a fifth byte raises :class:`MqttError`.
    """
    value = 0
    for i in range(4):
        if offset + i >= len(data):
            return None
        byte = data[offset + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, i + 1
    raise MqttError.malformed("variable byte integer longer than 4 bytes")


class Reader:
    """A cursor over one packet's bytes; every read checks the bytes are there."""

    __slots__ = ("_data", "_end", "_pos", "version")

    def __init__(self, data: bytes, *, version: Optional[int] = None) -> None:
        self._data = data
        self._pos = 0
        self._end = len(data)
        self.version = version

    def _error(self, message: str) -> MqttError:
        return MqttError.malformed(message, version=self.version)

    @property
    def remaining(self) -> int:
        """Bytes left to read."""
        return self._end - self._pos

    def _take(self, n: int, what: str) -> bytes:
        if n > self._end - self._pos:
            raise self._error(f"packet ends inside {what}")
        start = self._pos
        self._pos += n
        return self._data[start : self._pos]

    def u8(self, what: str = "a byte") -> int:
        """One byte."""
        if self._pos >= self._end:
            raise self._error(f"packet ends before {what}")
        value = self._data[self._pos]
        self._pos += 1
        return value

    def u16(self, what: str = "a two-byte integer") -> int:
        """A big-endian two-byte integer."""
        return int(_U16.unpack(self._take(2, what))[0])

    def u32(self, what: str = "a four-byte integer") -> int:
        """A big-endian four-byte integer."""
        return int(_U32.unpack(self._take(4, what))[0])

    def vbi(self, what: str = "a variable byte integer") -> int:
        """A Variable Byte Integer."""
        found = read_vbi_prefix(self._data, self._pos)
        if found is None or self._pos + found[1] > self._end:
            raise self._error(f"packet ends inside {what}")
        self._pos += found[1]
        return found[0]

    def binary(self, what: str = "binary data") -> bytes:
        """Binary data: a two-byte length, then that many bytes."""
        return bytes(self._take(self.u16(what), what))

    def utf8(self, what: str = "a string") -> str:
        """A UTF-8 string: valid UTF-8 (no surrogates) without U+0000."""
        raw = self._take(self.u16(what), what)
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise self._error(f"{what} is not valid UTF-8") from None
        if "\x00" in text:
            raise self._error(f"{what} contains U+0000")
        return text

    def pair(self, what: str = "a string pair") -> Tuple[str, str]:
        """A UTF-8 string pair (name, value)."""
        return self.utf8(what), self.utf8(what)

    def rest(self) -> bytes:
        """Every byte left (a PUBLISH payload)."""
        return bytes(self._take(self.remaining, "the payload"))

    def sub(self, length: int, what: str) -> Reader:
        """A reader over the next ``length`` bytes (a property block), which this reader skips."""
        return Reader(self._take(length, what), version=self.version)

    def expect_end(self, what: str) -> None:
        """Raise when bytes are left after ``what``."""
        if self._pos != self._end:
            raise self._error(f"{self._end - self._pos} unexpected bytes after {what}")


def write_u16(value: int) -> bytes:
    """A big-endian two-byte integer."""
    return _U16.pack(value)


def write_u32(value: int) -> bytes:
    """A big-endian four-byte integer."""
    return _U32.pack(value)


def write_vbi(value: int) -> bytes:
    """The minimal Variable Byte Integer encoding of ``value`` (0 … 268,435,455)."""
    if not 0 <= value <= MAX_VBI:
        raise ValueError(f"{value} does not fit a variable byte integer")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def write_binary(data: bytes) -> bytes:
    """Binary data with its two-byte length."""
    if len(data) > 0xFFFF:
        raise ValueError(f"binary field of {len(data)} bytes exceeds 65,535")
    return _U16.pack(len(data)) + bytes(data)


def write_utf8(text: str) -> bytes:
    """A UTF-8 string with its two-byte length (no U+0000, at most 65,535 bytes)."""
    if "\x00" in text:
        raise ValueError("MQTT strings must not contain U+0000")
    return write_binary(text.encode("utf-8"))


def write_pair(pair: Tuple[str, str]) -> bytes:
    """A string pair."""
    return write_utf8(pair[0]) + write_utf8(pair[1])
