"""Settings: defaults < TOML file < IIIF_* environment < command-line options."""

from __future__ import annotations

from pathlib import Path

import pytest

from iiif_archive.settings import PlatformSettings
from iiif_server.settings import ObjectStoreRoot, Settings, SettingsError, load_settings


def test_layers_override_in_order(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text('image_root = "/data/masters"\nmax_width = 8000\ncache_control = "public, max-age=60"\n')
    settings = load_settings(config, environ={"IIIF_MAX_WIDTH": "9000", "IIIF_MAX_AREA": "1_000_000"},
                             overrides={"max_width": 7000, "workers": None})
    assert settings.image_root == Path("/data/masters")
    assert settings.max_width == 7000  # the option beats the environment and the file
    assert settings.max_area == 1_000_000  # the environment beats the default
    assert settings.cache_control == "public, max-age=60"
    assert settings.workers == Settings().workers  # an option left unset changes nothing


def test_optional_paths_may_be_empty() -> None:
    assert load_settings(environ={"IIIF_DERIVATIVE_CACHE_DIR": ""}).derivative_cache_dir is None
    assert load_settings(environ={"IIIF_DERIVATIVE_CACHE_DIR": "/srv/cache"}).derivative_cache_dir == Path("/srv/cache")


def test_the_platform_adds_its_settings_to_the_image_servers() -> None:
    environ = {"IIIF_PRESENTATION_ROOT": "/srv/iiif", "IIIF_MAX_WIDTH": "8000"}
    settings = load_settings(environ=environ, settings_class=PlatformSettings)
    assert (settings.presentation_root, settings.max_width) == (Path("/srv/iiif"), 8000)
    with pytest.raises(SettingsError, match="unknown setting 'presentation_root'"):
        load_settings(environ=environ)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("s3://masters/archive/images", ObjectStoreRoot("masters", "archive/images")),
        ("s3://masters/archive/images/", ObjectStoreRoot("masters", "archive/images")),
        ("s3://masters", ObjectStoreRoot("masters", "")),
        ("/srv/masters", Path("/srv/masters")),
        ("images", Path("images")),
    ],
    ids=["bucket and prefix", "trailing slash", "whole bucket", "absolute folder", "relative folder"],
)
def test_the_image_root_is_a_folder_or_a_bucket(raw: str, expected: object) -> None:
    settings = load_settings(environ={"IIIF_IMAGE_ROOT": raw})
    assert settings.image_root == expected
    assert str(settings.image_root) == raw.rstrip("/")


def test_object_store_keys_and_the_secret_stays_out_of_the_repr() -> None:
    assert ObjectStoreRoot("masters", "archive").key("maps/hanoi.tif") == "archive/maps/hanoi.tif"
    assert ObjectStoreRoot("masters").key("maps/hanoi.tif") == "maps/hanoi.tif"
    settings = load_settings(environ={"IIIF_AWS_SECRET_ACCESS_KEY": "very-secret", "IIIF_IMAGE_ROOT": "s3://b/p"})
    assert settings.aws_secret_access_key == "very-secret"
    assert "very-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"IIIF_MAX_WITDH": "1"}, "unknown setting 'max_witdh'"),
        ({"IIIF_MAX_WIDTH": "wide"}, "max_width must be a whole number"),
        ({"IIIF_MAX_WIDTH": "0"}, "max_width must be at least 1"),
        ({"IIIF_JPEG_QUALITY": "101"}, "jpeg_quality must be between 1 and 100"),
        ({"IIIF_BASE_URL": "https://iiif.example/"}, "base_url must not end with '/'"),
        ({"IIIF_IMAGE_ROOT": "s3:///prefix"}, "names no bucket"),
        ({"IIIF_INFO_CACHE_TTL": "-1"}, "info_cache_ttl must be between 0 and 3600"),
    ],
)
def test_bad_settings_are_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=environ)


def test_unknown_key_in_the_file_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text("colour = 'red'\n")
    with pytest.raises(SettingsError, match=r"server\.toml: unknown setting 'colour'"):
        load_settings(config, environ={})


def test_a_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text("max_width = \n")
    with pytest.raises(SettingsError, match=r"server\.toml"):
        load_settings(config, environ={})
