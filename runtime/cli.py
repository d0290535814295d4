"""The `autoadvance` command: dev (everything in one process), http, worker <role>, migrate."""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys

import structlog

from runtime.logging import configure_logging
from runtime.settings import Settings

log = structlog.get_logger("autoadvance")


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutdown_requested")


async def _serve(settings: Settings, *, http: bool, role_names: list[str], sandboxes: bool = False) -> None:
    import uvicorn

    from runtime.app import open_services, persistent_secret
    from runtime.devsandbox import DevSandboxes, connect_webhooks, start_sandboxes
    from runtime.http import create_http_app
    from runtime.workers import create_worker

    dev = DevSandboxes()
    if sandboxes:
        settings, dev = await start_sandboxes(settings)
    try:
        services = await open_services(settings)
    except BaseException:
        await dev.stop()
        raise
    worker = create_worker(role_names, services) if role_names else None
    server = None
    server_task = None
    try:
        if worker:
            await worker.start()
            log.info("worker_started", roles=role_names)
        if http:
            app = create_http_app(services)
            config = uvicorn.Config(app, host=settings.http_host, port=settings.http_port, log_config=None,
                                    access_log=False, lifespan="on", timeout_graceful_shutdown=10)
            server = uvicorn.Server(config)
            server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # we own signals
            server_task = asyncio.create_task(server.serve())
            log.info("http_listening", url=f"http://{settings.http_host}:{settings.http_port}",
                     openapi=f"http://{settings.http_host}:{settings.http_port}/schema")
            connect_webhooks(dev, settings, settings.secret("ashby_webhook_secret")
                             or persistent_secret(settings.data_dir, "webhook_secret"))
        gc.collect()
        gc.freeze()  # the long-lived objects built at start are never scanned again: shorter GC pauses
        waiter = asyncio.create_task(_wait_for_signal())
        watched = [waiter] + ([server_task] if server_task else [])
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
    finally:
        if server is not None:
            server.should_exit = True
            if server_task is not None:
                await asyncio.wait([server_task], timeout=15)
        if worker:
            await worker.stop()
        await services.close()
        await dev.stop()
        log.info("stopped")


async def _migrate(settings: Settings) -> None:
    from runtime.app import open_services

    services = await open_services(settings, run_migrations=False)
    try:
        from runtime.db import migrate

        applied = await migrate(services.pool)
        log.info("migrations_done", applied=applied)
    finally:
        await services.close()


def _run(coro) -> None:
    try:
        import uvloop

        uvloop.run(coro)
    except ImportError:  # pragma: no cover
        asyncio.run(coro)


def main(argv: list[str] | None = None) -> int:
    from runtime.workers import roles

    parser = argparse.ArgumentParser(prog="autoadvance", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="HTTP and every worker role in one process (embedded servers if no URLs)")
    sub.add_parser("http", help="the HTTP role: webhooks, Slack interactions, query API")
    worker = sub.add_parser("worker", help="one worker role")
    worker.add_argument("role", choices=roles())
    sub.add_parser("migrate", help="apply database migrations and exit")
    demo = sub.add_parser("demo", help="against a running `make run`: two candidates through the whole pipeline")
    demo.add_argument("--json", action="store_true", help="print a machine-readable summary")
    demo.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the pipeline")
    from runtime import cli_replay, cli_rules

    cli_rules.register(sub)  # rules validate|activate|show

    cli_replay.register(sub)  # replay, rebuild
    args, rest = parser.parse_known_args(argv)

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    if args.command == "dev":
        _run(_serve(settings, http=True, role_names=roles(), sandboxes=True))
    elif args.command == "http":
        _run(_serve(settings, http=True, role_names=[]))
    elif args.command == "worker":
        _run(_serve(settings, http=False, role_names=[args.role]))
    elif args.command == "migrate":
        _run(_migrate(settings))
    elif args.command == "demo":
        from runtime.demo import run_demo

        return asyncio.run(run_demo(settings, as_json=args.json, timeout=args.timeout))
    elif args.command == "rules":
        return cli_rules.run(args, settings)
    elif args.command in ("replay", "rebuild"):
        return asyncio.run(cli_replay.run(args, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
