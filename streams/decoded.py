"""Table values decoded once, not at every event that reads them.

A record's match state is read by its change and again by each block's answer, a popular
block by every record that joins it; validating the same JSON into the same pydantic model
each time was the largest single cost in the agents (``bench.throughput`` profile). The
memo is keyed by table key and trusted only while the table still holds the very bytes
the value was decoded from, so it can never disagree with the table, whatever wrote it (a
restore, another worker's changelog, a failed event's write).

The values must be immutable: a reader that changed one would change it for the next.
The tables' models are frozen pydantic models, and the pure functions in ``models`` make
new ones instead of editing them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

Value = TypeVar("Value")

# Keys remembered per table: enough for the records and blocks a burst of changes
# revisits (a change and its answers come within milliseconds of each other), small
# enough that the memo stays a few tens of MB beside tables of millions of keys.
DEFAULT_CAPACITY = 8192


class DecodedValues(Generic[Value]):
    """The decoded value of each recently used key, with the bytes it came from."""

    def __init__(self, decode: Callable[[bytes], Value], capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self._decode = decode
        self._capacity = capacity
        self._entries: OrderedDict[bytes, tuple[bytes, Value]] = OrderedDict()
        self.decoded = 0  # how often ``decode`` ran: what the memo did not save

    def get(self, key: bytes, stored: bytes | None) -> Value | None:
        """``stored`` (what the table holds for ``key``) decoded, or None when it is None."""
        if stored is None:
            return None
        entry = self._entries.get(key)
        # The in-memory store hands back the object it was given, RocksDB a fresh copy.
        if entry is not None and (entry[0] is stored or entry[0] == stored):
            self._entries.move_to_end(key)
            return entry[1]
        value = self._decode(stored)
        self.decoded += 1
        self.remember(key, stored, value)
        return value

    def remember(self, key: bytes, stored: bytes, value: Value) -> None:
        """Note that the table now holds ``stored``, which is ``value`` encoded."""
        self._entries[key] = (stored, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
