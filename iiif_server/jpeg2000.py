"""JPEG 2000 regions decoded by OpenJPEG code-tile by code-tile, with decoders kept per worker.

libvips 8.14 reads a tiled JP2 in libvips tiles the size of a full-resolution code-tile, whatever
the reduction, and fills each with one OpenJPEG call per code-tile after a seek and a fresh 1 MB
read: a 256 px IIIF tile at reduction 4 decodes four times the area it needs, in 256 calls. This
reader keeps one opened OpenJPEG decoder per (master, reduction) and decodes only the code-tiles
under the crop. Measured per 256 px tile of the benchmark's 16k master (one core): libvips
33 / 43 / 94 / 172 ms at scale factors 1 / 2 / 8 / 16, this reader 36 / 12 / 22 / 34 ms.
libvips keeps the large regions: it streams them and uses both cores for one request.
"""

from __future__ import annotations

import ctypes
import math
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyvips
from glymur.lib import openjp2

from iiif_server.errors import MasterUnreadable
from iiif_server.info import Jpeg2000Layout
from iiif_server.plan import Box
from iiif_server.sources.base import Master

# OpenJPEG reads this much after every seek between code-tiles: with 1 MB, as libvips uses, a tile
# at reduction 4 took 46 ms instead of 31 ms.
READ_CHUNK_BYTES = 64 * 1024
# From this many code-tiles on, a crop is split between two decoders: the 1000 px reduction of a 16k
# master (768 code-tiles of 32 px) took 325 ms with one, where iipsrv took 315 ms; a tile that
# lies in one to four code-tiles is decoded by its own request's thread.
SPLIT_FROM_CODE_TILES = 16

_library = openjp2.OPENJP2
_library.opj_stream_create_file_stream.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int32]
_library.opj_stream_create_file_stream.restype = openjp2.STREAM_TYPE_P


def code_tiles_under(layout: Jpeg2000Layout, crop: Box, reduction: int) -> list[int]:
    """Indexes of the code-tiles that hold pixels of ``crop`` (in the reduced level's pixels).

    A level pixel p covers full-resolution pixels from p * 2^r, which lie in code-tile
    floor(p * 2^r / tile size): exact also where a tile edge falls between level pixels.
    """
    tiles_across = math.ceil(layout.width / layout.tile_width)
    first_column = (crop.x << reduction) // layout.tile_width
    last_column = ((crop.right - 1) << reduction) // layout.tile_width
    first_row = (crop.y << reduction) // layout.tile_height
    last_row = ((crop.bottom - 1) << reduction) // layout.tile_height
    return [
        row * tiles_across + column
        for row in range(first_row, last_row + 1)
        for column in range(first_column, last_column + 1)
    ]


class _Decoder:
    """One OpenJPEG codec and file stream, at one reduction. One request at a time."""

    def __init__(self, path: str, raw_codestream: bool, reduction: int) -> None:
        self.reduction = reduction
        self.stream = _library.opj_stream_create_file_stream(path.encode(), READ_CHUNK_BYTES, 1)
        if not self.stream:
            raise OSError("OpenJPEG cannot open the file")
        self.codec = openjp2.create_decompress(openjp2.CODEC_J2K if raw_codestream else openjp2.CODEC_JP2)
        try:
            # Failures are reported by the calls' results; OpenJPEG's own messages would go to stderr.
            for set_handler in (openjp2.set_error_handler, openjp2.set_warning_handler, openjp2.set_info_handler):
                set_handler(self.codec, None)
            parameters = openjp2.set_default_decoder_parameters()
            parameters.cp_reduce = reduction
            openjp2.setup_decoder(self.codec, parameters)
            self.image = openjp2.read_header(self.stream, self.codec)
        except openjp2.OpenJPEGLibraryError:
            openjp2.destroy_codec(self.codec)
            openjp2.stream_destroy(self.stream)
            raise

    def decode_into(self, pixels: np.ndarray, crop: Box, tile_index: int) -> None:
        """Decode one code-tile and copy the part of it inside ``crop`` into ``pixels``."""
        openjp2.get_decoded_tile(self.codec, self.stream, self.image, tile_index)
        image = self.image.contents
        first = image.comps[0]
        # The component's origin stays in full-resolution pixels; its size is the reduced one.
        scale = 1 << self.reduction
        tile_x, tile_y = -(-first.x0 // scale), -(-first.y0 // scale)
        width, height = first.w, first.h
        left, top = max(crop.x, tile_x), max(crop.y, tile_y)
        right, bottom = min(crop.right, tile_x + width), min(crop.bottom, tile_y + height)
        if right <= left or bottom <= top:
            return
        for band in range(image.numcomps):
            samples = np.ctypeslib.as_array(image.comps[band].data, shape=(height, width))
            pixels[top - crop.y : bottom - crop.y, left - crop.x : right - crop.x, band] = samples[
                top - tile_y : bottom - tile_y, left - tile_x : right - tile_x
            ]

    def close(self) -> None:
        openjp2.image_destroy(self.image)
        openjp2.destroy_codec(self.codec)
        openjp2.stream_destroy(self.stream)


DecoderKey = tuple[str, str, int]  # (path, fingerprint token, reduction)


class Jpeg2000Regions:
    """Per-worker pool of decoders. Thread-safe: a decoder serves one request at a time, so a busy
    (master, reduction) gets a second decoder; at most ``max_idle`` idle decoders are kept, the
    least recently used closed first."""

    def __init__(self, max_idle: int) -> None:
        self.max_idle = max_idle
        self._idle: OrderedDict[DecoderKey, list[_Decoder]] = OrderedDict()
        self._idle_count = 0
        self._lock = threading.Lock()
        # OpenJPEG releases the GIL (ctypes), so the helper decodes on the other core.
        self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jpeg2000")

    def read(self, master: Master, path: str, layout: Jpeg2000Layout, reduction: int, crop: Box) -> pyvips.Image:
        """The pixels of ``crop`` at ``reduction`` as an 8-bit sRGB (3 bands) or grey (1 band) image,
        from the master's file at ``path``. A crop over many code-tiles is decoded by two decoders
        at once, each filling its own rows of tiles."""
        pixels = np.empty((crop.height, crop.width, layout.bands), dtype=np.uint8)
        tiles = code_tiles_under(layout, crop, reduction)
        key = (path, master.fingerprint.token, reduction)
        if len(tiles) >= SPLIT_FROM_CODE_TILES:
            half = len(tiles) // 2
            second = self._helper.submit(self._decode, master, key, layout, pixels, crop, tiles[half:])
            try:
                self._decode(master, key, layout, pixels, crop, tiles[:half])
            finally:
                second.result()
        else:
            self._decode(master, key, layout, pixels, crop, tiles)
        image = pyvips.Image.new_from_memory(pixels.data, crop.width, crop.height, layout.bands, "uchar")
        return image.copy(interpretation="srgb" if layout.bands == 3 else "b-w")

    def _decode(self, master: Master, key: DecoderKey, layout: Jpeg2000Layout, pixels: np.ndarray, crop: Box,
                tiles: list[int]) -> None:
        decoder = self._take(key)
        try:
            if decoder is None:
                decoder = _Decoder(key[0], layout.raw_codestream, key[2])
            for tile_index in tiles:
                decoder.decode_into(pixels, crop, tile_index)
        except (openjp2.OpenJPEGLibraryError, OSError) as error:
            if decoder is not None:
                decoder.close()
            raise MasterUnreadable(f"image {master.identifier!r} could not be decoded", str(error)) from None
        self._give_back(key, decoder)

    def close(self) -> None:
        """Close every idle decoder (each holds its file open)."""
        with self._lock:
            idle = [decoder for decoders in self._idle.values() for decoder in decoders]
            self._idle.clear()
            self._idle_count = 0
        for decoder in idle:
            decoder.close()

    def _take(self, key: DecoderKey) -> _Decoder | None:
        with self._lock:
            decoders = self._idle.get(key)
            if not decoders:
                return None
            self._idle_count -= 1
            decoder = decoders.pop()
            if not decoders:
                del self._idle[key]
            return decoder

    def _give_back(self, key: DecoderKey, decoder: _Decoder) -> None:
        closing = []
        with self._lock:
            self._idle.setdefault(key, []).append(decoder)
            self._idle.move_to_end(key)
            self._idle_count += 1
            while self._idle_count > self.max_idle:
                oldest_key, oldest = next(iter(self._idle.items()))
                closing.append(oldest.pop(0))
                self._idle_count -= 1
                if not oldest:
                    del self._idle[oldest_key]
        for evicted in closing:
            evicted.close()
