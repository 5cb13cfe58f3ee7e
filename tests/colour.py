"""Colour science for the colour tests, independent of libvips and lcms: ICC profiles written from
their primaries, white point and tone curve (ICC.1:2001-04, version 2 matrix/TRC and grey TRC
profiles), the encoding of an sRGB colour in such a profile, and CIEDE2000.

The masters of the tests are encoded here with plain matrix arithmetic, and the server converts them
with lcms: a served pixel close to the original colour proves both the profile and the conversion.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

D50 = np.array([0.9642, 1.0, 0.8249])  # the ICC profile connection space's white
BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])
Curve = Callable[[np.ndarray], np.ndarray]  # encoded value 0..1 -> linear light 0..1


def srgb_curve(encoded: np.ndarray) -> np.ndarray:
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)


def gamma_curve(gamma: float) -> Curve:
    return lambda encoded: np.power(encoded, gamma)


def lstar_curve(encoded: np.ndarray) -> np.ndarray:
    """eciRGB v2's tone curve: the encoded value is CIE L* / 100."""
    lightness = encoded * 100
    return np.where(lightness > 8, ((lightness + 16) / 116) ** 3, lightness / 903.3)


def _xyz_of(x: float, y: float) -> np.ndarray:
    return np.array([x / y, 1.0, (1 - x - y) / y])


@dataclass(frozen=True)
class RgbSpace:
    name: str
    primaries: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
    white: tuple[float, float]
    curve: Curve

    def to_pcs(self) -> np.ndarray:
        """Linear RGB -> XYZ relative to D50 (Bradford-adapted), as an ICC profile's colorants say."""
        columns = np.stack([_xyz_of(*primary) for primary in self.primaries], axis=1)
        white = _xyz_of(*self.white)
        scaled = columns * np.linalg.solve(columns, white)
        cone_source, cone_target = BRADFORD @ white, BRADFORD @ D50
        adapt = np.linalg.inv(BRADFORD) @ np.diag(cone_target / cone_source) @ BRADFORD
        return adapt @ scaled

    def encode(self, linear: np.ndarray) -> np.ndarray:
        """Linear light 0..1 -> encoded 0..1, by inverting the tone curve numerically (any curve)."""
        grid = np.linspace(0, 1, 65536)
        return np.interp(linear, self.curve(grid), grid)


SRGB = RgbSpace("sRGB", ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06)), (0.3127, 0.3290), srgb_curve)
ADOBE_RGB = RgbSpace("Adobe RGB (1998) compatible", ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06)), (0.3127, 0.3290),
                     gamma_curve(563 / 256))
DISPLAY_P3 = RgbSpace("Display P3 compatible", ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)), (0.3127, 0.3290),
                      srgb_curve)
ECI_RGB_V2 = RgbSpace("eciRGB v2 compatible", ((0.67, 0.33), (0.21, 0.71), (0.14, 0.08)), (0.3457, 0.3585),
                      lstar_curve)


def in_space(srgb: tuple[int, int, int], space: RgbSpace, maximum: int = 255) -> tuple[int, ...]:
    """The 8-bit sRGB colour as ``space`` stores it, quantised to 0..maximum."""
    linear = srgb_curve(np.array(srgb) / 255)
    target = np.linalg.solve(space.to_pcs(), SRGB.to_pcs() @ linear)
    assert np.all(target >= 0) and np.all(target <= 1), f"{srgb} lies outside {space.name}"
    return tuple(int(round(value * maximum)) for value in space.encode(target))


def grey_in_curve(srgb_grey: int, curve: Curve, maximum: int = 255) -> int:
    """An sRGB grey as a grey master with tone curve ``curve`` stores it."""
    linear = float(srgb_curve(np.array(srgb_grey / 255)))
    grid = np.linspace(0, 1, 65536)
    return int(round(float(np.interp(linear, curve(grid), grid)) * maximum))


# --- ICC profiles -------------------------------------------------------------------------------

def _s15(value: float) -> bytes:
    return struct.pack(">i", int(round(value * 65536)))


def _xyz_tag(xyz: np.ndarray) -> bytes:
    return b"XYZ " + bytes(4) + b"".join(_s15(value) for value in xyz)


def _curve_tag(curve: Curve) -> bytes:
    table = np.clip(np.round(curve(np.linspace(0, 1, 4096)) * 65535), 0, 65535).astype(">u2")
    return b"curv" + bytes(4) + struct.pack(">I", len(table)) + table.tobytes()


def _text_description(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return b"desc" + bytes(4) + struct.pack(">I", len(ascii_text)) + ascii_text + bytes(4 + 4 + 2 + 1 + 67)


def _profile(colour_space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    entries, data = [], b""
    for signature, content in tags:
        padded = content + bytes(-len(content) % 4)
        entries.append(struct.pack(">4sII", signature, offset + len(data), len(content)))
        data += padded
    size = 128 + table_size + len(data)
    header = struct.pack(">I4sI4s4s4s6H4s4sI4s4s8sI", size, b"lcms", 0x02100000, b"mntr", colour_space, b"XYZ ",
                         2026, 1, 1, 0, 0, 0, b"acsp", b"APPL", 0, b"none", b"none", bytes(8), 0)
    header += b"".join(_s15(value) for value in D50) + b"none" + bytes(16) + bytes(28)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + b"".join(entries) + data


def rgb_profile(space: RgbSpace) -> bytes:
    colorants = space.to_pcs()
    curve = _curve_tag(space.curve)
    return _profile(b"RGB ", [
        (b"desc", _text_description(space.name)),
        (b"cprt", b"text" + bytes(4) + b"No copyright, test profile\0"),
        (b"wtpt", _xyz_tag(D50)),
        (b"rXYZ", _xyz_tag(colorants[:, 0])),
        (b"gXYZ", _xyz_tag(colorants[:, 1])),
        (b"bXYZ", _xyz_tag(colorants[:, 2])),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
    ])


def grey_profile(name: str, curve: Curve) -> bytes:
    return _profile(b"GRAY", [
        (b"desc", _text_description(name)),
        (b"cprt", b"text" + bytes(4) + b"No copyright, test profile\0"),
        (b"wtpt", _xyz_tag(D50)),
        (b"kTRC", _curve_tag(curve)),
    ])


# --- CIEDE2000 ----------------------------------------------------------------------------------

def srgb_to_lab(srgb: tuple[float, ...]) -> np.ndarray:
    """CIE L*a*b* (D50, as ICC) of an 8-bit sRGB colour."""
    xyz = SRGB.to_pcs() @ srgb_curve(np.array(srgb, dtype=float) / 255)
    ratio = xyz / D50
    f = np.where(ratio > (6 / 29) ** 3, np.cbrt(ratio), ratio / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e_2000(lab1: np.ndarray, lab2: np.ndarray) -> float:
    """CIEDE2000 (Sharma, Wu and Dalal 2005), with kL = kC = kH = 1."""
    l1, a1, b1 = lab1
    l2, a2, b2 = lab2
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean**7 / (c_mean**7 + 25**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dl, dc = l2 - l1, c2p - c1p
    dh = h2p - h1p
    if c1p * c2p == 0:
        dh = 0
    elif dh > 180:
        dh -= 360
    elif dh < -180:
        dh += 360
    dhh = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    l_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_mean = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_mean = (h1p + h2p) / 2
    else:
        h_mean = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (1 - 0.17 * np.cos(np.radians(h_mean - 30)) + 0.24 * np.cos(np.radians(2 * h_mean))
         + 0.32 * np.cos(np.radians(3 * h_mean + 6)) - 0.20 * np.cos(np.radians(4 * h_mean - 63)))
    d_theta = 30 * np.exp(-(((h_mean - 275) / 25) ** 2))
    rc = 2 * np.sqrt(cp_mean**7 / (cp_mean**7 + 25**7))
    sl = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    sc = 1 + 0.045 * cp_mean
    sh = 1 + 0.015 * cp_mean * t
    rt = -np.sin(np.radians(2 * d_theta)) * rc
    return float(np.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (dhh / sh) ** 2 + rt * (dc / sc) * (dhh / sh)))
