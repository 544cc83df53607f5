"""The `admitone` command: serve, migrate, create-user, verify-organization, expire-holds,
worker, relay."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from admitone.config import Environment, Settings, get_settings

app = typer.Typer(help="Admit One: event ticketing and festival platform.", no_args_is_help=True)


@app.callback()
def _check_settings() -> None:
    """Validate the configuration before any command, naming each wrong setting."""
    import re

    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    try:
        get_settings()
    except SettingsError as exc:
        # A value that is not even of its shape (JSON expected): the source names the field.
        found = re.search(r'field "(\w+)"', str(exc))
        name = f"ADMITONE_{found[1].upper()}" if found else "configuration"
        typer.echo(
            f"Configuration error:\n  {name}: cannot be read ({exc.__cause__ or exc})", err=True
        )
        raise typer.Exit(code=2) from None
    except ValidationError as exc:
        typer.echo("Configuration error:", err=True)
        for error in exc.errors():
            field = "_".join(str(part) for part in error["loc"]) or "settings"
            name = f"ADMITONE_{field.upper()}" if error["loc"] else "configuration"
            typer.echo(f"  {name}: {error['msg']}", err=True)
        raise typer.Exit(code=2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development)")] = False,
    demo: Annotated[bool, typer.Option(help="Load demo data into an empty database")] = False,
) -> None:
    """Run the web application with uvicorn (migrating first on the embedded SQLite)."""
    import uvicorn

    from admitone.migrate import upgrade_database

    settings = get_settings()
    _check_rate_limits_are_shared(settings, workers=workers)
    if settings.is_sqlite:
        upgrade_database(settings.database_url)
    if demo:
        _load_demo()
    typer.echo(f"Admit One on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    if workers == 1 and not reload and settings.pin_workers:
        # The one serving process runs on one CPU at a time anyway (the GIL); staying on
        # one spares its threads' hand-overs the wake-ups across CPUs (cpu_affinity.py).
        # With several workers each pins itself (main.py), so this process must not:
        # its children would inherit the one CPU.
        from admitone.cpu_affinity import pin_worker_to_cpu

        pin_worker_to_cpu()
    metrics_dir, made_here = _multiprocess_metrics_dir(workers=1 if reload else workers)
    try:
        uvicorn.run(
            "admitone.main:app",
            host=host,
            port=port,
            workers=None if reload else workers,
            reload=reload,
            access_log=False,
            log_config=None,
            # An idle keep-alive connection costs a socket and a little memory; a stopping
            # server (a deploy) lets the requests in flight finish, then cuts the rest.
            timeout_keep_alive=settings.http_keep_alive_seconds,
            timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
            # uvicorn's fast parser (httptools), with a bound on the request head that it
            # lacks (http_protocol.py); request bodies are bounded by the app
            # (request_limits.py).
            http="admitone.http_protocol:BoundedHttpToolsProtocol",
        )
    finally:
        if made_here and metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _multiprocess_metrics_dir(*, workers: int) -> tuple[Path | None, bool]:
    """The folder of prometheus_client's multiprocess mode for the serving processes,
    emptied, and whether it was made here (then removed when serving ends).

    Several workers each count in files there, and /metrics sums them (docs/metrics.md).
    A folder given by PROMETHEUS_MULTIPROC_DIR is used, emptied of a previous run's
    files (they would add up again); otherwise, with more than one worker, a temporary
    one is made. prometheus_client reads the variable in each worker process as it is
    imported, which is why it is set in this process's environment (the workers inherit
    it) rather than passed as a setting.
    """
    configured = get_settings().prometheus_multiproc_dir
    if configured is not None:
        configured.mkdir(parents=True, exist_ok=True)
        for stale in configured.glob("*.db"):
            stale.unlink()
        return configured, False
    if workers <= 1:
        return None, False  # one process: its own in-memory counters are all there is
    made = Path(tempfile.mkdtemp(prefix="admitone-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(made)
    return made, True


def _check_rate_limits_are_shared(settings: Settings, *, workers: int) -> None:
    """Several worker processes counting rate limits in memory each let ``workers`` times
    every limit through: say so at start-up, and refuse in production unless allowed."""
    if workers <= 1 or settings.rate_limits_shared:
        return
    message = (
        f"{workers} workers count the rate limits in memory, each on its own: every limit "
        "lets up to {workers} times its requests through. Set ADMITONE_REDIS_URL or "
        "ADMITONE_RATE_LIMIT_STORAGE_URL=redis://... to share them."
    ).replace("{workers}", str(workers))
    if settings.env == Environment.production and not settings.allow_unshared_rate_limits:
        typer.echo(
            f"Refusing to start: {message} (ADMITONE_ALLOW_UNSHARED_RATE_LIMITS=true accepts it.)",
            err=True,
        )
        raise typer.Exit(code=2)
    typer.echo(f"WARNING: {message}", err=True)


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply database migrations."""
    from admitone.migrate import upgrade_database

    upgrade_database(get_settings().database_url, revision)
    typer.echo(f"Database migrated to {revision}.")


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(prompt=True)],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    full_name: Annotated[str, typer.Option()] = "",
    platform_admin: Annotated[bool, typer.Option(help="Grant platform-admin rights")] = False,
) -> None:
    """Create an account (optionally a platform admin), its e-mail address verified."""
    from admitone.accounts import service, verification
    from admitone.db import Database
    from admitone.errors import DomainError

    settings = get_settings()
    database = Database(settings.database_url, pool_size=1)
    try:
        with database.session() as session:
            user = service.register_user(
                session,
                email=email,
                password=password,
                full_name=full_name,
                is_platform_admin=platform_admin,
            )
            # The operator vouches for the address: no verification mail.
            verification.mark_email_verified(user)
            typer.echo(f"Created {user.email}{' (platform admin)' if platform_admin else ''}.")
    except DomainError as exc:
        typer.echo(f"Error: {exc.message} {exc.details or ''}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        database.dispose()


@app.command("verify-organization")
def verify_organization(
    slug: Annotated[str, typer.Argument(help="The organization's short address")],
    undo: Annotated[bool, typer.Option("--undo", help="Take the verification back")] = False,
) -> None:
    """Mark an organization as verified by the platform (its mail may reach anyone)."""
    from admitone.db import Database, utcnow
    from admitone.errors import DomainError
    from admitone.organizations import service

    settings = get_settings()
    database = Database(settings.database_url, pool_size=1)
    try:
        with database.session() as session:
            organization = service.set_verified(
                session, actor=None, slug=slug, verified=not undo, now=utcnow()
            )
            state = "verified" if organization.verified else "no longer verified"
            typer.echo(f"{organization.slug} is {state}.")
    except DomainError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        database.dispose()


@app.command("expire-holds")
def expire_holds() -> None:
    """Return expired holds to sale now (job orders.expire_holds; the app runs it every minute)."""
    from admitone.db import Database
    from admitone.orders import tasks

    settings = get_settings()
    database = Database(settings.database_url, pool_size=1)
    try:
        expired = tasks.expire_holds(database)
    finally:
        database.dispose()
    typer.echo(f"{expired} expired order(s) released their seats.")


@app.command()
def worker(
    beat: Annotated[bool, typer.Option(help="Also run the periodic jobs (Celery beat)")] = False,
    concurrency: Annotated[int, typer.Option(help="Job processes or threads")] = 2,
    pool: Annotated[str, typer.Option(help="Celery pool: prefork, threads or solo")] = "prefork",
    loglevel: Annotated[str, typer.Option(help="Log level")] = "INFO",
) -> None:
    """Run a Celery worker for the background jobs (needs ADMITONE_REDIS_URL; docs/jobs.md)."""
    from admitone.jobs.celery_app import QUEUE, make_celery

    settings = get_settings()
    if not settings.redis_url:
        typer.echo(
            "ADMITONE_REDIS_URL is not set: without Redis the app runs jobs in-process.", err=True
        )
        raise typer.Exit(code=2)
    argv = [
        "worker",
        f"--loglevel={loglevel}",
        f"--concurrency={concurrency}",
        f"--pool={pool}",
        f"--queues={QUEUE}",
        "--without-gossip",
        "--without-mingle",
    ]
    if beat:
        schedule = settings.outbox_dir.parent / "celerybeat-schedule"
        schedule.parent.mkdir(parents=True, exist_ok=True)
        argv += ["--beat", f"--schedule={schedule}"]
    make_celery(settings).worker_main(argv)


@app.command()
def relay(
    upstream: Annotated[
        str | None, typer.Option(help="Upstream's base URL [env ADMITONE_RELAY_UPSTREAM]")
    ] = None,
    event: Annotated[
        str | None, typer.Option(help="The event's id [env ADMITONE_RELAY_EVENT]")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="The relay's device token (aod_...); prefer ADMITONE_RELAY_TOKEN, which "
            "stays out of the process list"
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (0.0.0.0: the gates' network)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8100)")] = None,
    database: Annotated[
        Path | None, typer.Option(help="The relay's SQLite file (default admitone-relay.db)")
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="PEM certificate: serve https (phones need it for the camera)"),
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert")] = None,
) -> None:
    """Run a site relay: the gates' scanning API on this machine, exactly once across
    its gates, working on when the link to upstream is down (docs/gates.md)."""
    import uvicorn
    from pydantic import ValidationError

    from admitone.relay.app import build_relay
    from admitone.relay.settings import RelaySettings

    given: dict[str, Any] = {
        "upstream": upstream,
        "event": event,
        "token": token,
        "host": host,
        "port": port,
        "database": database,
        "tls_cert": tls_cert,
        "tls_key": tls_key,
    }
    try:
        settings = RelaySettings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        typer.echo("Relay configuration error:", err=True)
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"])
            # A rule across options (tls_cert with tls_key) names no one option.
            where = (
                f"--{name.replace('_', '-')} / ADMITONE_RELAY_{name.upper()}" if name else "options"
            )
            typer.echo(f"  {where}: {error['msg']}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(
        f"Admit One relay for event {settings.event} on {settings.scheme}://{settings.host}:"
        f"{settings.port}, upstream {settings.upstream}, data in {settings.database}"
    )
    uvicorn.run(
        build_relay(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
    )


def _load_demo() -> None:
    from admitone.db import Database
    from admitone.demo import load_demo

    settings = get_settings()
    database = Database(settings.database_url, pool_size=1)
    try:
        with database.session() as session:
            credentials = load_demo(session, media_dir=settings.media_dir)
    finally:
        database.dispose()
    if credentials is None:
        typer.echo("Demo data not loaded: the database already has users.")
        return
    typer.echo("Demo data loaded. Log in with:")
    for role, (email, password) in credentials.items():
        typer.echo(f"  {role:<10} {email}  /  {password}")


if __name__ == "__main__":
    app()
