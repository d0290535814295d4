"""The `autoadvance` command: dev (HTTP, its worker roles in a child process), http, worker <role>, migrate."""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import os
import signal
import socket
import sys
from typing import Any

import structlog

from runtime.logging import configure_logging
from runtime.settings import Settings

log = structlog.get_logger("autoadvance")


async def _wait_for_signal(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutdown_requested")


async def _serve(settings: Settings, *, http: bool, role_names: list[str], sandboxes: bool = False,
                 sockets: list[socket.socket] | None = None, run_migrations: bool = True,
                 announce: bool = False, worker_process: bool = False,
                 stop_signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> int:
    """One process: HTTP (on `sockets` if given, else binding HTTP_HOST:HTTP_PORT) and/or worker roles,
    the roles in supervised child processes with `worker_process` (runtime/worker_process.py).
    Returns the exit status: 1 when such a child died."""
    import uvicorn

    from runtime.app import open_services, persistent_secret
    from runtime.devsandbox import DevSandboxes, connect_webhooks, start_sandboxes
    from runtime.http import create_http_app
    from runtime.worker_process import WorkerProcess, process_groups
    from runtime.workers import create_worker

    dev = DevSandboxes()
    if sandboxes:
        settings, dev = await start_sandboxes(settings)
    try:
        services = await open_services(settings, run_migrations=run_migrations)
    except BaseException:
        await dev.stop()
        raise
    children: list[WorkerProcess] = []
    if worker_process:  # the servers are up and migrated: the children only connect
        connected = settings.model_copy(update={"nats_url": services.nats_url, "database_url": services.database_url})
        children = [WorkerProcess(connected, group) for group in process_groups(role_names)]
    worker = create_worker(role_names, services) if role_names and not children else None
    server = None
    server_task = None
    status = 0
    try:
        for child in children:
            child.start()
        if worker:
            await worker.start()
            log.info("worker_started", roles=role_names)
        if http:
            app = create_http_app(services)
            config = uvicorn.Config(app, host=settings.http_host, port=settings.http_port, log_config=None,
                                    access_log=False, lifespan="on", timeout_graceful_shutdown=10)
            server = uvicorn.Server(config)
            server_task = asyncio.create_task(server.serve(sockets=sockets))
            if sockets is None or announce:  # a worker of `_serve_http_workers`: the supervisor says where
                log.info("http_listening", url=f"http://{settings.http_host}:{settings.http_port}",
                         console=f"http://{settings.http_host}:{settings.http_port}/ui/", openapi=f"http://{settings.http_host}:{settings.http_port}/schema")
            connect_webhooks(dev, settings, settings.secret("ashby_webhook_secret")
                             or persistent_secret(settings.data_dir, "webhook_secret"))
        gc.collect()
        gc.freeze()  # the long-lived objects built at start are never scanned again: shorter GC pauses
        waiter = asyncio.create_task(_wait_for_signal(stop_signals))
        watched: list[asyncio.Future[Any]] = [waiter, *([server_task] if server_task else [])]
        watched.extend(child.exited for child in children if child.exited is not None)
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        for child in children if not waiter.done() else []:
            if child.exited is not None and child.exited.done():
                log.error("worker_process_exited", exit_code=child.exited.result(), roles=child.role_names,
                          action="stopping: webhooks would be acknowledged but not processed")
                status = 1
        waiter.cancel()
    finally:
        if server is not None:
            server.should_exit = True
            if server_task is not None:
                await asyncio.wait([server_task], timeout=15)
        if worker:
            await worker.stop()
        await asyncio.gather(*(child.stop() for child in children))
        await services.close()
        await dev.stop()
        log.info("stopped")
    return status


def bound_or_explained(host: str, port: int) -> socket.socket | None:
    """The HTTP socket, bound before anything else starts; None after one line saying why not (an
    occupied port used to be found after "listening" was logged, followed by a 30 s hang)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound on {host} ({exc.strerror})"
        print(f"port {port} {reason} (set HTTP_PORT)", file=sys.stderr)
        return None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def http_worker_count(setting: int) -> int:
    """HTTP_WORKERS, with 0 meaning one per CPU this process may run on."""
    if setting > 0:
        return setting
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _listener(host: str, port: int) -> socket.socket:
    """A listening socket of its own per worker on the same port (SO_REUSEPORT): the kernel spreads new
    connections over the workers evenly, where one shared socket lets whichever worker wakes first
    accept a burst of keep-alive connections and keep them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=2048, reuse_port=True)


def _http_worker(settings: Settings, sock: socket.socket) -> None:
    """One worker process of `_serve_http_workers` (spawned: a fresh interpreter, nothing inherited)."""
    configure_logging(settings.log_format, settings.log_level)
    _run(_serve(settings, http=True, role_names=[], sockets=[sock], run_migrations=False))


def _serve_http_workers(settings: Settings, count: int) -> int:
    """`autoadvance http` as `count` worker processes on one port (HTTP_WORKERS), each with its own
    NATS connection and Postgres pool, so the HTTP role uses more than one core.

    This process is their supervisor: it starts embedded servers if no URLs are set, applies the
    migrations and declares the streams once, makes the generated secrets once (so every worker
    reads the same), binds the port, then waits. If a worker exits, it stops the others and exits
    non-zero, so the orchestrator restarts the role as a whole.
    """
    import multiprocessing
    import multiprocessing.connection

    from runtime.app import persistent_secret, start_embedded

    nats_url, database_url, embedded = start_embedded(settings)
    procs: list = []
    try:
        settings = settings.model_copy(update={"nats_url": nats_url, "database_url": database_url})
        _run(_migrate(settings))
        for setting, file in (("ashby_webhook_secret", "webhook_secret"), ("admin_api_token", "admin_token"),
                              ("pii_master_key", "pii_master_key")):
            if not settings.secret(setting):
                persistent_secret(settings.data_dir, file)
        sockets = [_listener(settings.http_host, settings.http_port) for _ in range(count)]
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_http_worker, args=(settings, sock), name=f"autoadvance-http-{i}", daemon=True)
                 for i, sock in enumerate(sockets)]
        for proc in procs:
            proc.start()
        for sock in sockets:
            sock.close()  # each worker holds its own
        log.info("http_listening", url=f"http://{settings.http_host}:{settings.http_port}",
                 console=f"http://{settings.http_host}:{settings.http_port}/ui/", openapi=f"http://{settings.http_host}:{settings.http_port}/schema", workers=count,
                 pids=[proc.pid for proc in procs])
        stop: list[int] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, _frame: stop.append(signum))
        exited: list = []
        while not stop and not exited:
            exited = multiprocessing.connection.wait([proc.sentinel for proc in procs], timeout=0.5)
        if exited:
            log.error("http_worker_exited", exit_codes=[proc.exitcode for proc in procs if proc.exitcode is not None])
            return 1
        log.info("shutdown_requested")
        return 0
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM: each worker finishes its requests in flight, then closes
        for proc in procs:
            proc.join(20)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        for server in reversed(embedded):
            server.stop()
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


def _run(coro) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)


def main(argv: list[str] | None = None) -> int:
    from runtime.workers import roles

    parser = argparse.ArgumentParser(prog="autoadvance", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="HTTP, with every worker role in a child process (embedded servers if no URLs)")
    sub.add_parser("http", help="the HTTP role: webhooks, Slack interactions, query API")
    worker = sub.add_parser("worker", help="one worker role")
    worker.add_argument("role", choices=roles())
    sub.add_parser("migrate", help="apply database migrations and exit")
    demo = sub.add_parser("demo", help="against a running `make run`: two candidates through the whole pipeline")
    demo.add_argument("--json", action="store_true", help="print a machine-readable summary")
    demo.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the pipeline")
    from runtime import cli_compliance, cli_dlq, cli_privacy, cli_replay, cli_rules

    cli_rules.register(sub)  # rules validate|activate|show
    cli_dlq.register(sub)  # dlq list|show|retry
    cli_compliance.register(sub)  # demographics import|list|delete, report impact|oversight, explain
    cli_privacy.register(sub)  # erase, audit export|verify

    cli_replay.register(sub)  # replay, rebuild
    args, rest = parser.parse_known_args(argv)

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    if args.command in ("dev", "http"):
        workers = http_worker_count(settings.http_workers) if args.command == "http" else 1
        if workers > 1:
            return _serve_http_workers(settings, workers)
        listener = bound_or_explained(settings.http_host, settings.http_port)
        if listener is None:
            return 1
        dev = args.command == "dev"
        return int(_run(_serve(settings, http=True, role_names=roles() if dev else [], sandboxes=dev,
                               sockets=[listener], announce=True, worker_process=dev and settings.dev_worker_process)))
    elif args.command == "worker":
        return int(_run(_serve(settings, http=False, role_names=[args.role])))
    elif args.command == "migrate":
        _run(_migrate(settings))
    elif args.command == "demo":
        from runtime.demo import run_demo

        return asyncio.run(run_demo(settings, as_json=args.json, timeout=args.timeout))
    elif args.command == "rules":
        return cli_rules.run(args, settings)
    elif args.command == "dlq":
        return cli_dlq.run(args, settings)
    elif args.command == "erase":
        return cli_privacy.run_erase(args, settings)
    elif args.command == "audit":
        return cli_privacy.run_audit(args, settings)
    elif args.command in ("demographics", "report", "explain"):
        return cli_compliance.run(args, settings)
    elif args.command in ("replay", "rebuild"):
        return asyncio.run(cli_replay.run(args, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
