"""Server settings: one frozen value, loaded from defaults < TOML file < IIIF_* environment < CLI flags."""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "IIIF_"
OBJECT_STORE_SCHEME = "s3://"


@dataclass(frozen=True)
class ObjectStoreRoot:
    """An image root in S3-compatible object storage: ``s3://BUCKET/PREFIX``."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> ObjectStoreRoot:
        bucket, _, prefix = url[len(OBJECT_STORE_SCHEME) :].partition("/")
        if not bucket:
            raise ValueError(f"{url!r} names no bucket (s3://BUCKET/PREFIX)")
        return cls(bucket, prefix.strip("/"))

    def key(self, name: str) -> str:
        """The object key of ``name`` below the prefix."""
        return f"{self.prefix}/{name}" if self.prefix else name

    def __str__(self) -> str:
        return f"{OBJECT_STORE_SCHEME}{self.bucket}/{self.prefix}".rstrip("/")


ImageRoot = Path | ObjectStoreRoot


def parse_image_root(raw: str | Path) -> ImageRoot:
    """``s3://BUCKET/PREFIX`` is a bucket; anything else a local folder."""
    text = str(raw)
    return ObjectStoreRoot.parse(text) if text.startswith(OBJECT_STORE_SCHEME) else Path(text).expanduser()


@dataclass(frozen=True)
class Settings:
    """Everything the server can be told. Each field is documented in README "Settings"."""

    # A local folder, or s3://BUCKET/PREFIX for masters in S3-compatible object storage.
    image_root: ImageRoot = Path("images")
    # Public URL prefix that ids and Link headers use (e.g. https://iiif.archives.gov.vn);
    # empty means "derive it from the request", which is right behind no proxy.
    base_url: str = ""
    # Comma-separated host names a request's Host may name while base_url is empty (ids are then built
    # from it); '.archives.example' admits subdomains. Loopback names and the address `serve` binds to
    # are always trusted. Other hosts get 400, so a forged Host never reaches a shared cache.
    trusted_hosts: str = ""
    max_width: int = 10_000
    max_height: int = 10_000
    max_area: int = 40_000_000
    # Tile edge advertised for masters that carry no tiling of their own (flat JPEG, PNG, strip TIFF).
    tile_size: int = 512
    jpeg_quality: int = 85
    cache_control: str = "public, max-age=86400"
    info_cache_entries: int = 4096
    # Each worker process keeps this many opened masters (pyvips handles per level) for reuse.
    open_masters_per_worker: int = 32
    # Per worker: where the tile-parts of JPEG 2000 masters lie (16 bytes per tile-part: 75 KB for a
    # 40,000 x 30,000 px JP2 of 512 px code-tiles), kept within this many bytes.
    jpeg2000_index_bytes: int = 16 * 1024 * 1024
    # Per worker: decoded JPEG 2000 code-tiles that neighbouring tiles share (a 512 px code-tile holds
    # four 256 px full-resolution tiles; 768 KiB decoded), kept for them within this many bytes.
    jpeg2000_code_tile_bytes: int = 32 * 1024 * 1024
    # Per worker: tile indexes of pyramidal TIFFs for stored-tile passthrough (16 bytes per tile).
    stored_tile_index_bytes: int = 16 * 1024 * 1024
    # Per worker: rendered responses (a repeat of the same URL is usually a replay, response_cache_bytes;
    # this keeps renders for conditional requests and the other API version's URL of the same image).
    # 64 MiB keeps all processes of a 2-worker server within 1 GiB serving the 40k JP2 (benchmark).
    derivative_cache_bytes: int = 64 * 1024 * 1024
    derivative_cache_dir: Path | None = None
    derivative_cache_dir_bytes: int = 2 * 1024 * 1024 * 1024
    # Whole Image API responses per worker, replayed to repeats of the same URL without Flask (0 = off).
    response_cache_bytes: int = 64 * 1024 * 1024
    # Comma-separated identifier prefixes whose images only signed-in readers get (info.json stays
    # public); "prefix:group1|group2" admits only readers of those groups (README "Restricted records").
    restricted_prefixes: str = ""
    # JSON access rules the manifest build writes (README "Restricted records"); read at start.
    access_rules_file: Path | None = None
    # The public substitute of each access level's images, served to anyone in their place (README
    # "Substitutes"): "max:1024" (at most 1024 px on the longer side), "watermark" (a visible bilingual
    # text on every answer), both, or empty for none.
    restricted_substitute: str = ""
    reading_room_substitute: str = ""
    # Per worker: reduced masters of "max:N" substitutes kept in memory (each is N x N x 3 bytes at most).
    substitute_cache_bytes: int = 64 * 1024 * 1024
    # Key that signs access cookies and tokens; the same on every worker and server. Empty: the Auth 2.0
    # services are off and restricted images are refused to everyone.
    auth_secret: str = field(default="", repr=False)
    # How long an access cookie and an access token last after login.
    auth_session_seconds: int = 3600
    # The embedded users file (readers, groups, Argon2 hashes) the login page checks; managed by
    # `iiif-archive users`.
    auth_users_file: Path | None = None
    # Failed logins allowed per client address and per user name within the window, per worker; then 429.
    auth_login_failures: int = 5
    auth_login_window_seconds: int = 900
    # Comma-separated origins (https://portal.example) the token service gives tokens to, besides this
    # server's own; others get an invalidOrigin error.
    auth_token_origins: str = ""
    # Comma-separated addresses or CIDR networks of reverse proxies (nginx) whose X-Forwarded-For names
    # the client; from anyone else the header is ignored (README "Kiosk").
    trusted_proxies: str = ""
    # Comma-separated CIDR networks of reading-room terminals: the kiosk access service gives them the
    # access cookie without a login, for the groups of auth_kiosk_groups.
    auth_kiosk_networks: str = ""
    auth_kiosk_groups: str = ""
    # The portal's single sign-on session cookie (a JWT) that the external access service accepts; empty:
    # no external service. It is verified with the shared HS256 secret or the portal's PEM public key
    # (one of the two); `sub` names the user, the groups claim the groups (README "External").
    auth_external_cookie: str = ""
    auth_external_secret: str = field(default="", repr=False)
    auth_external_public_key_file: Path | None = None
    auth_external_groups_claim: str = "groups"
    # Login with the agency's OpenID Connect provider: its issuer URL (discovery at
    # ISSUER/.well-known/openid-configuration), this server's client id and secret there, the scope
    # asked for (must include openid), and the ID token claim listing the reader's groups. Empty issuer:
    # no OIDC login. The provider must accept BASE/auth/2/oidc/callback as a redirect URI.
    auth_oidc_issuer: str = ""
    auth_oidc_client_id: str = ""
    auth_oidc_client_secret: str = field(default="", repr=False)
    auth_oidc_scope: str = "openid profile"
    auth_oidc_groups_claim: str = "groups"
    # The audit log (JSON lines): logins, tokens, logouts and every request for a restricted image,
    # appended by every worker; empty: no audit (README "Audit log").
    audit_log: Path | None = None
    # Seconds a located master (its key, ETag and Last-Modified) is trusted before the store is asked
    # again: a master replaced in the bucket is served new by every server within this time.
    info_cache_ttl: int = 30
    # Object storage connection; each empty one falls back to the standard AWS_* environment variable.
    aws_endpoint_url: str = ""
    aws_region: str = ""
    aws_access_key_id: str = ""
    aws_secret_access_key: str = field(default="", repr=False)
    # Seconds one object-store read may take, retries included, before the request fails with 503.
    object_store_timeout: int = 5
    # How long a request may take before it answers 503 and frees its thread: info.json, tiles and
    # thumbnails (a crop of at most 2048 x 2048 px of a tiled level) get the first, every other image
    # request (large regions, masters read top to bottom) the second.
    tile_deadline_ms: int = 5_000
    heavy_deadline_ms: int = 60_000
    # The heavy-request lane (iiif_server/lane.py): responses of more pixels than this (the rotated
    # bounding box) are rendered a few at a time per worker, so they never starve tiles. A 2048 px
    # square, the largest region viewers and exports commonly ask for, is not heavy: it renders at
    # once on the worker with all of libvips' threads (in the lane it took 1.4 x iipsrv's time).
    heavy_output_pixels: int = 2048 * 2048
    # Heavy renders at once per worker, and heavy requests waiting for a slot per worker; beyond
    # those, or after heavy_wait_seconds of waiting, a heavy request gets 503 with Retry-After.
    # The worker runs heavy_slots + heavy_queue threads on top of `threads`.
    heavy_slots: int = 1
    heavy_queue: int = 1
    heavy_wait_seconds: int = 10
    workers: int = 2
    # Per worker. On 2 cores, 2 threads gave a tile p99 of 14 ms where 4 gave 20-22 ms (threads queue
    # for the GIL) at the same throughput; more threads help when many slow large regions are expected.
    threads: int = 2
    log_level: str = "info"

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)


class SettingsError(ValueError):
    """A setting that cannot be understood; the message names the setting and where it came from."""


SettingsType = typing.TypeVar("SettingsType", bound=Settings)


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    settings_class: type[SettingsType] = Settings,  # type: ignore[assignment] - the default is the bound
) -> SettingsType:
    """Merge the layers; later layers win. Unknown keys are errors, never silently ignored.

    ``settings_class`` is Settings or a dataclass extending it with the settings of the layers above.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    if config_file is not None:
        with open(config_file, "rb") as handle:
            try:
                table = tomllib.load(handle)
            except tomllib.TOMLDecodeError as error:
                raise SettingsError(f"{config_file}: {error}") from error
        for key, raw in table.items():
            values[key] = _coerce(settings_class, key, raw, source=str(config_file))
    for env_key, raw in environ.items():
        if env_key.startswith(ENV_PREFIX):
            key = env_key[len(ENV_PREFIX) :].lower()
            values[key] = _coerce(settings_class, key, raw, source=f"environment {env_key}")
    for key, raw in (overrides or {}).items():
        if raw is not None:
            values[key] = _coerce(settings_class, key, raw, source=f"option --{key.replace('_', '-')}")
    settings = settings_class(**values)  # type: ignore[arg-type]
    _check(settings)
    return settings


def _coerce(settings_class: type[Settings], key: str, raw: object, source: str) -> object:
    types_by_name = typing.get_type_hints(settings_class)
    if key not in types_by_name:
        raise SettingsError(f"{source}: unknown setting {key!r}")
    wanted = types_by_name[key]
    optional = isinstance(wanted, types.UnionType) and type(None) in typing.get_args(wanted)
    if optional:
        wanted = next(t for t in typing.get_args(wanted) if t is not type(None))
        if raw in ("", None):
            return None
    if wanted == ImageRoot:
        try:
            return parse_image_root(raw)  # type: ignore[arg-type]
        except ValueError as error:
            raise SettingsError(f"{source}: {key}: {error}") from None
    try:
        if wanted is Path:
            return Path(str(raw)).expanduser()
        if wanted is int:
            if isinstance(raw, bool):
                raise ValueError
            return int(str(raw).replace("_", ""))
        if wanted is str:
            return str(raw)
    except ValueError:
        raise SettingsError(f"{source}: {key} must be a whole number, not {raw!r}") from None
    raise SettingsError(f"{source}: {key} has an unsupported type")  # pragma: no cover - guards new fields


def _check(settings: Settings) -> None:
    for name in ("max_width", "max_height", "max_area", "tile_size", "workers", "threads", "object_store_timeout",
                 "tile_deadline_ms", "heavy_deadline_ms", "heavy_output_pixels", "heavy_slots", "auth_session_seconds",
                 "auth_login_failures", "auth_login_window_seconds"):
        if getattr(settings, name) < 1:
            raise SettingsError(f"{name} must be at least 1")
    for name in ("heavy_queue", "heavy_wait_seconds", "substitute_cache_bytes"):
        if getattr(settings, name) < 0:
            raise SettingsError(f"{name} must not be negative")
    if not 1 <= settings.jpeg_quality <= 100:
        raise SettingsError("jpeg_quality must be between 1 and 100")
    if not 0 <= settings.info_cache_ttl <= 3600:
        raise SettingsError("info_cache_ttl must be between 0 and 3600 seconds")
    if settings.base_url.endswith("/"):
        raise SettingsError("base_url must not end with '/'")
