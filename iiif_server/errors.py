"""One error hierarchy: each error carries its HTTP status and a one-line reason for the client."""

from __future__ import annotations


def decoder_message(error: Exception) -> str:
    """libvips errors stack their causes on several lines: all of them on one line, for the log."""
    lines = [line.strip() for line in str(error).strip().splitlines()]
    return "; ".join(line for line in lines if line) or type(error).__name__


class IIIFError(Exception):
    status = 500

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason.splitlines()[0] if reason else "error"

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross from the heavy-render processes (render_pool.py) whole: the subclasses'
        # constructors take more than Exception's pickling passes back.
        return _restore_error, (type(self), self.__dict__)


def _restore_error(kind: type[IIIFError], state: dict[str, object]) -> IIIFError:
    error = kind.__new__(kind)
    Exception.__init__(error, state["reason"])
    error.__dict__.update(state)
    return error


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


class Unavailable(IIIFError):
    """The server is too busy for this request now; the client may retry after ``retry_after`` seconds."""

    status = 503

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class MasterUnreadable(IIIFError):
    """The master exists but cannot be decoded; only this master's requests fail.

    ``reason`` (the answer) names the identifier only; ``detail`` is the decoder's own message, which
    may hold the file's path on the server, so it goes to the log and never to the client.
    """

    status = 500

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.detail = detail


class UnsupportedMaster(MasterUnreadable):
    """The master is a file only a decoder the server does not allow would read (see loaders.py)."""


class DeadlineExceeded(IIIFError):
    """The request ran past its deadline: it is answered, its thread freed, its work abandoned."""

    status = 503
