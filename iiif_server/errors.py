"""One error hierarchy: each error carries its HTTP status and a one-line reason for the client."""

from __future__ import annotations


def last_line(error: Exception) -> str:
    """libvips errors stack the causes; the last line is the one that says what is wrong."""
    lines = str(error).strip().splitlines()
    return lines[-1] if lines else type(error).__name__


class IIIFError(Exception):
    status = 500

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason.splitlines()[0] if reason else "error"


class BadRequest(IIIFError):
    """The request is malformed or impossible for this image (IIIF: 400)."""

    status = 400


class LimitExceeded(BadRequest):
    """Well-formed, but beyond maxWidth/maxHeight/maxArea; refused before any decoding."""


class Forbidden(IIIFError):
    status = 403


class NotFound(IIIFError):
    status = 404


class NotImplementedFeature(IIIFError):
    """A valid IIIF request that this server does not implement (IIIF: 501)."""

    status = 501


class StoreUnavailable(IIIFError):
    """The object store holding the masters did not answer in time; the client may retry."""

    status = 503


class MasterUnreadable(IIIFError):
    """The master exists but cannot be decoded; only this master's requests fail."""

    status = 500
