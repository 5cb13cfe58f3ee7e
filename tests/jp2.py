"""JP2 files rebuilt box by box (ISO 15444-1 annex I), for headers libvips never writes: large XML,
UUID and ICC boxes before the codestream, comments between marker segments, ICC colour boxes."""

from __future__ import annotations

import struct

SIZ = b"\xff\x51"
COMMENT = b"\xff\x64"


def box(box_type: bytes, content: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(content), box_type) + content


def split_boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, content) of each box of ``data``, in order."""
    boxes = []
    offset = 0
    while offset < len(data):
        length, box_type = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if length == 1:
            (length,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
            header = 16
        elif length == 0:
            length = len(data) - offset
        boxes.append((box_type, data[offset + header : offset + length]))
        offset += length
    return boxes


def join_boxes(boxes: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(box(box_type, content) for box_type, content in boxes)


def with_boxes_before_codestream(data: bytes, extra: list[tuple[bytes, bytes]]) -> bytes:
    boxes = split_boxes(data)
    at = next(index for index, (box_type, _) in enumerate(boxes) if box_type == b"jp2c")
    return join_boxes(boxes[:at] + extra + boxes[at:])


def with_comment_after_siz(data: bytes, comment: bytes) -> bytes:
    """A COM marker segment (A.9.2) right after SIZ, holding ``comment`` as binary data (Rcme 0)."""
    boxes = split_boxes(data)
    rebuilt = []
    for box_type, content in boxes:
        if box_type == b"jp2c":
            (siz_length,) = struct.unpack(">H", content[4:6])
            end_of_siz = 4 + siz_length
            segment = COMMENT + struct.pack(">HH", 4 + len(comment), 0) + comment
            content = content[:end_of_siz] + segment + content[end_of_siz:]
        rebuilt.append((box_type, content))
    return join_boxes(rebuilt)


def with_icc_colour(data: bytes, icc_profile: bytes) -> bytes:
    """The JP2 header's colour box replaced by one that gives the colour as an ICC profile (METH 2)."""
    rebuilt = []
    for box_type, content in split_boxes(data):
        if box_type == b"jp2h":
            children = [(t, c) for t, c in split_boxes(content) if t != b"colr"]
            colour = bytes([2, 0, 0]) + icc_profile  # METH 2 (restricted ICC), PREC, APPROX
            children.insert(1, (b"colr", colour))
            content = join_boxes(children)
        rebuilt.append((box_type, content))
    return join_boxes(rebuilt)


SOT, SOD = b"\xff\x90", b"\xff\x93"
START_OF_PACKET = b"\xff\x91"  # SOP (A.8.1): bit stuffing keeps it out of packet data


def with_tile_parts_split(codestream: bytes) -> bytes:
    """Each tile-part of a codestream written with SOP markers split in two at the packet in its
    middle (A.4.2): every tile's first parts, then every tile's second parts, as a writer that orders
    tile-parts by resolution lays them out."""
    first_tile_part = codestream.index(SOT)
    firsts, seconds = [], []
    position = first_tile_part
    while codestream[position : position + 2] == SOT:
        _, _, tile, length, _, _ = struct.unpack(">2sHHIBB", codestream[position : position + 12])
        data_start = codestream.index(SOD, position) + 2
        header, data = codestream[position + 12 : data_start], codestream[data_start : position + length]
        packets = [at for at in range(len(data) - 1) if data[at : at + 2] == START_OF_PACKET]
        split = packets[len(packets) // 2]
        for number, (parts, piece) in enumerate(((firsts, header + data[:split]), (seconds, SOD + data[split:]))):
            parts.append(struct.pack(">2sHHIBB", SOT, 10, tile, 12 + len(piece), number, 2) + piece)
        position += length
    return codestream[:first_tile_part] + b"".join(firsts + seconds) + codestream[position:]
