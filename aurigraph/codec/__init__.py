"""Protobuf at the boundary, frozen dataclasses inside: the one place that converts between them.

Only this package (and the serve apps) touch the generated `aurigraph.v1` modules. Decoding is
strict: oversize input, bytes that do not parse, non-canonical encodings (unknown or repeated
fields, which would let one body have several ids) and out-of-range fields all raise `TxRejected`
with a precise reason, never a bare protobuf error.
"""

from aurigraph.codec.blocks import (
    block_from_proto,
    block_to_proto,
    decode_block,
    decode_header,
    encode_block,
    encode_header,
)
from aurigraph.codec.transactions import (
    body_from_proto,
    body_to_proto,
    decode_body,
    decode_signed,
    encode_body,
    encode_signed,
    receipt_from_proto,
    receipt_to_proto,
    reject_reason_to_proto,
    sign_transaction,
    signed_from_json,
    signed_from_proto,
    signed_to_json,
    signed_to_proto,
)

__all__ = [
    "block_from_proto", "block_to_proto", "body_from_proto", "body_to_proto", "decode_block", "decode_body",
    "decode_header", "decode_signed", "encode_block", "encode_body", "encode_header", "encode_signed",
    "receipt_from_proto", "receipt_to_proto",
    "reject_reason_to_proto", "sign_transaction", "signed_from_json", "signed_from_proto", "signed_to_json",
    "signed_to_proto",
]
