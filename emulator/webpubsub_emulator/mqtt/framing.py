"""Reassembly of MQTT packets from WebSocket binary frames (one buffer per connection, no IO).

A packet may span frames and a frame may hold several packets; even the Remaining Length may be split. The buffer
takes packets in order while one is complete, and refuses one over the size limit as soon as its Remaining Length
is known, before its body arrives. Its errors are :class:`~.errors.MqttError`; after one the buffer is unusable.
"""

from __future__ import annotations

from typing import Iterator, List, Optional

from .codec import decode
from .codes import ReasonCode
from .errors import CLOSE_POLICY, MqttError
from .packets import Packet
from .wire import read_vbi_prefix

__all__ = ["MAX_PACKET_SIZE", "PacketBuffer"]

MAX_PACKET_SIZE = 1024 * 1024
"""The largest packet accepted, fixed header included (1 MiB)."""


class PacketBuffer:
    """Bytes received on one connection that are not yet whole packets.

    :param version: the protocol level, None until a CONNECT sets it (then only CONNECT is accepted).
    :param max_packet_size: the largest packet, fixed header included.
    :param from_client: True on the server side (the packets come from a client).
    :param max_buffered: the most bytes held at once (default: a partial packet plus a full frame, 2 MiB); an
        adapter that drains with :meth:`feed` never reaches it, one that stops taking packets (while a CONNECT is
        being decided) must stop reading frames too.
    """

    def __init__(
        self,
        version: Optional[int] = None,
        *,
        max_packet_size: int = MAX_PACKET_SIZE,
        from_client: bool = True,
        max_buffered: Optional[int] = None,
    ) -> None:
        self.version = version
        self.max_packet_size = max_packet_size
        self.from_client = from_client
        self.max_buffered = 2 * max_packet_size if max_buffered is None else max_buffered
        self._data = bytearray()
        self._failed: Optional[MqttError] = None

    @property
    def buffered(self) -> int:
        """Bytes held that belong to packets not yet complete or not yet taken."""
        return len(self._data)

    def feed(self, frame: bytes) -> List[Packet]:
        """Add one binary frame and return every packet it completes, in order."""
        self.append(frame)
        return list(self.packets())

    def append(self, frame: bytes) -> None:
        """Add bytes without decoding (take packets with :meth:`packets` or :meth:`next_packet`)."""
        if self._failed is not None:
            raise self._failed
        if len(self._data) + len(frame) > self.max_buffered:
            self._data.clear()
            self._failed = MqttError(
                ReasonCode.QUOTA_EXCEEDED,
                f"more than {self.max_buffered} bytes wait to be read",
                close_code=CLOSE_POLICY,
                version=self.version,
            )
            raise self._failed
        self._data += frame

    def packets(self) -> Iterator[Packet]:
        """Take the complete packets, one at a time (stop iterating to leave the rest buffered)."""
        while True:
            packet = self.next_packet()
            if packet is None:
                return
            yield packet

    def next_packet(self) -> Optional[Packet]:
        """Take the next complete packet, or None when it is not all here yet.

        A CONNECT taken while :attr:`version` is None sets :attr:`version` to its protocol level.
        """
        if self._failed is not None:
            raise self._failed
        try:
            return self._next()
        except MqttError as error:
            self._failed = error
            self._data.clear()
            raise

    def _next(self) -> Optional[Packet]:
        data = self._data
        if len(data) < 2:
            return None
        header = read_vbi_prefix(data, 1)
        if header is None:
            return None
        length, used = header
        total = 1 + used + length
        if total > self.max_packet_size:
            raise MqttError.too_large(total, self.max_packet_size, version=self.version)
        if len(data) < total:
            return None
        first, body = data[0], bytes(data[1 + used : total])
        del data[:total]
        packet = decode(first, body, self.version, from_client=self.from_client)
        if self.version is None:
            self.version = packet.protocol_level  # type: ignore[union-attr]
        return packet
