"""Public substitutes of restricted images (IIIF Auth 2.0 "Tiered Access"): what anyone gets in place
of an image an access rule keeps from them. Pure: the settings' text in, frozen values out."""

from __future__ import annotations

import math
from dataclasses import dataclass

from iiif_server.access.base import AccessLevel
from iiif_server.settings import Settings, SettingsError

MAX_SIZE_WORD = "max:"
WATERMARK_WORD = "watermark"


@dataclass(frozen=True)
class Substitute:
    """How the substitute differs from the full image: at most ``max_size`` pixels on its longer side
    (None: the full resolution), with or without the visible bilingual watermark on every answer."""

    max_size: int | None
    watermark: bool

    @property
    def tier(self) -> str:
        """Names the substitute in derivative-cache keys and ETags, which must never match the full image's."""
        return "substitute" + (f"-max{self.max_size}" if self.max_size else "") + ("-watermark" if self.watermark else "")

    def size_of(self, width: int, height: int) -> tuple[int, int]:
        """The substitute's size for a width x height master: scaled down to ``max_size``, never up."""
        if self.max_size is None or max(width, height) <= self.max_size:
            return width, height
        scale = self.max_size / max(width, height)
        return max(1, math.floor(width * scale + 0.5)), max(1, math.floor(height * scale + 0.5))


def parse_substitute(setting: str, name: str) -> Substitute | None:
    """``"max:1024"``, ``"watermark"``, ``"max:1024 watermark"`` (spaces or commas between); empty: no substitute."""
    max_size, watermark = None, False
    for word in setting.replace(",", " ").split():
        if word.startswith(MAX_SIZE_WORD):
            digits = word[len(MAX_SIZE_WORD):]
            if not digits.isdigit() or not digits.isascii() or int(digits) < 1:
                raise SettingsError(f"{name}: {word!r} needs a whole number of pixels, as in 'max:1024'")
            max_size = int(digits)
        elif word == WATERMARK_WORD:
            watermark = True
        else:
            raise SettingsError(f"{name}: unknown word {word!r} (known: 'max:N', 'watermark')")
    return Substitute(max_size, watermark) if max_size is not None or watermark else None


def substitutes_of(settings: Settings) -> dict[AccessLevel, Substitute]:
    """The substitute of each access level that has one."""
    configured = {
        AccessLevel.RESTRICTED: parse_substitute(settings.restricted_substitute, "restricted_substitute"),
        AccessLevel.READING_ROOM: parse_substitute(settings.reading_room_substitute, "reading_room_substitute"),
    }
    return {level: substitute for level, substitute in configured.items() if substitute is not None}
