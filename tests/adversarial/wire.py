"""Hand-made protobuf wire encoding, for the malleated encodings the library itself never writes:
non-minimal varints, duplicated and reordered fields, unknown fields of every wire type."""

from __future__ import annotations


def varint(n: int, extra: int = 0) -> bytes:
    """`n` as a varint; `extra` > 0 pads it with that many redundant bytes (same value, not minimal)."""
    out = bytearray()
    while True:
        out.append(n & 0x7F)
        n >>= 7
        if not n:
            break
        out[-1] |= 0x80
    if extra:
        out[-1] |= 0x80
        out += b"\x80" * (extra - 1) + b"\x00"
    return bytes(out)


def tag(field: int, wire_type: int, extra: int = 0) -> bytes:
    return varint(field << 3 | wire_type, extra)


def uint(field: int, value: int, extra: int = 0) -> bytes:
    """A varint field; `extra` pads the value's encoding."""
    return tag(field, 0) + varint(value, extra)


def blob(field: int, data: bytes, extra: int = 0) -> bytes:
    """A length-delimited field; `extra` pads the length's encoding."""
    return tag(field, 2) + varint(len(data), extra) + data


UNKNOWN_FIELDS = {
    "varint": uint(15, 1),
    "length-delimited": blob(100, b"x"),
    "fixed64": tag(16, 1) + bytes(8),
    "fixed32": tag(17, 5) + bytes(4),
    "group": tag(18, 3) + uint(1, 1) + tag(18, 4),
}
