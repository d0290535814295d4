"""Webhook ingest benchmark: signed `interviewScheduleUpdate` webhooks → POST /webhooks/ashby → EVENTS.

By default it runs what `make run` starts, `autoadvance dev` (`--layout dev`: HTTP and the sandboxes
in one process, the worker roles in its two child processes), against an embedded nats-server and
PostgreSQL of its own. `--layout dev-one-process` runs the same with DEV_WORKER_PROCESS=false (HTTP
and every worker role on one event loop); `--layout http` runs the production topology instead:
`autoadvance http` (HTTP_WORKERS) plus one `autoadvance worker <role>` process per `--roles`.
The load generator is another process (raw asyncio protocol, HTTP/1.1 keep-alive, one connection
per client, each waiting for its answer before sending the next). In the same run it measures the
raw limit: nats-py JetStream publishes of the same envelopes with `Nats-Msg-Id`, each awaited for
its ack, from as many concurrent publishers as there are clients.

End to end: while the load runs, a watcher samples the projection lag (how long the oldest
acknowledged event not yet in `event_log` has waited: now minus its JetStream timestamp) every
0.25 s; after the load it waits until every acknowledged delivery is in `event_log`, so end to end
= deliveries / (first request → last row stored).

    .venv/bin/python bench/ingest.py [--quick] [--clients 64] [--seconds S] [--layout dev|dev-one-process|http]
                                     [--http-procs N] [--http-workers N] [--roles projectors]

It prints a timeline (2 s buckets) of answers/s, p99, HTTP CPU per webhook and the CPU of each
process group (`http`: the process answering webhooks; `workers`: the worker roles' processes) and
of the whole machine, so a drop over a sustained run can be traced to its cause.

Ends with `RESULT webhooks_per_s`, `RESULT webhook_p99_ms`, `RESULT ingest_end_to_end_per_s`,
`RESULT ingest_drain_s`, `RESULT projection_lag_p99_s` and informative RESULT lines, all of the
layout run (by default the one `make run` starts).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import multiprocessing
import sys
import threading
import time

import _common as c

LAYOUTS = ("dev", "dev-one-process", "http")
PATH = b"/webhooks/ashby"
MARK = b"bench-000000000"


def _templates(count: int = 500) -> list[tuple[bytes, int]]:
    """Bodies with a placeholder webhookActionId (replaced per request, so every id is unique)."""
    out = []
    for i in range(count):
        body = c.webhook_body(i)
        out.append((body.replace(f"bench-{i:09d}".encode(), MARK), len(body)))
    return out


_SECRET = c.WEBHOOK_SECRET.encode()


def _request(port: int, body: bytes) -> bytes:
    signature = b"sha256=" + hmac.digest(_SECRET, body, "sha256").hex().encode()  # as `c.sign`, in one C call
    head = (b"POST " + PATH + b" HTTP/1.1\r\nHost: 127.0.0.1:" + str(port).encode()
            + b"\r\nContent-Type: application/json\r\nAshby-Signature: " + signature
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    return head + body


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request in flight: `exchange` writes a request and
    resolves to the status once the whole response (head and Content-Length body) has arrived.
    A protocol rather than asyncio streams: about half the load generator's CPU per request, which
    on a 2-core machine is CPU the server under test gets instead."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def exchange(self, request: bytes) -> asyncio.Future[int]:
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)  # type: ignore[union-attr]
        return self._waiter

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self._buffer[:end])
        length = 0
        at = head.lower().find(b"\r\ncontent-length:")
        if at >= 0:
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + 17:stop if stop >= 0 else len(head)])
        if len(self._buffer) < end + 4 + length:
            return
        del self._buffer[:end + 4 + length]
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(int(head[9:12]))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc or ConnectionError("connection closed by the server"))


async def _one_client(port: int, seq: list[int], offset: int, templates: list, window: tuple[float, float],
                      stop_at: float, latencies: list[float], statuses: dict[int, int], timeline: list) -> None:
    _, conn = await asyncio.get_running_loop().create_connection(_Connection, "127.0.0.1", port)
    start, end = window
    ntemp = len(templates)
    try:
        while True:
            n = offset + seq[0]
            seq[0] += 1
            template, _ = templates[n % ntemp]
            body = template.replace(MARK, f"bench-{n:09d}".encode())
            req = _request(port, body)
            t0 = time.perf_counter()
            if t0 >= stop_at:
                return
            status = await conn.exchange(req)
            t1 = time.perf_counter()
            if start <= t0 and t1 <= end:
                latencies.append(t1 - t0)
                statuses[status] = statuses.get(status, 0) + 1
                timeline.append((t1 - start, t1 - t0))
    finally:
        conn.transport.close()


async def _webhooks(ports: list[int], clients: int, warmup: float, seconds: float, offset: int) -> dict:
    templates = _templates()
    cpu0 = time.process_time()
    now = time.perf_counter()
    window = (now + warmup, now + warmup + seconds)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    seq = [0]
    timeline: list[tuple[float, float]] = []
    await asyncio.gather(*(_one_client(ports[i % len(ports)], seq, offset, templates, window, window[1],
                                       latencies, statuses, timeline) for i in range(clients)))
    return {"latencies": latencies, "statuses": statuses, "seconds": seconds, "sent": seq[0],
            "cpu": (time.process_time() - cpu0) / (time.perf_counter() - now), "timeline": timeline,
            "start": window[0], "load_start": now,
            "load_end": time.perf_counter()}  # perf_counter is CLOCK_MONOTONIC: the parent's clock too


async def _raw_publish(nats_url: str, concurrency: int, seconds: float, offset: int) -> dict:
    """The same envelopes published straight to JetStream: awaited one by one per publisher, and pipelined."""
    from datetime import UTC, datetime

    import nats

    from contracts import subjects
    from ingest.webhook import to_envelope

    nc = await nats.connect(nats_url, pending_size=64 * 1024 * 1024)
    js = nc.jetstream()
    now = datetime.now(UTC)
    template = to_envelope(c.webhook_body(0), now)
    data = template.to_bytes()
    subject = subjects.event_subject(template.source, template.event_type, template.key)
    headers = template.headers()
    counter = [offset]

    async def publisher(stop_at: float, done: list[int]) -> None:
        while time.perf_counter() < stop_at:
            counter[0] += 1
            await js.publish(subject, data, headers={**headers, "Nats-Msg-Id": f"raw-{counter[0]}"})
            done[0] += 1

    done = [0]
    t0 = time.perf_counter()
    await asyncio.gather(*(publisher(t0 + seconds, done) for _ in range(concurrency)))
    awaited = done[0] / (time.perf_counter() - t0)

    pipelined = 0.0
    if hasattr(js, "publish_async"):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < min(seconds, 5.0):
            futures = []
            for _ in range(256):
                counter[0] += 1
                futures.append(await js.publish_async(subject, data,
                                                      headers={**headers, "Nats-Msg-Id": f"raw-{counter[0]}"}))
            await asyncio.gather(*futures)
            n += 256
        pipelined = n / (time.perf_counter() - t0)
    await nc.close()
    return {"awaited_per_s": awaited, "pipelined_per_s": pipelined, "bytes": len(data)}


def _loadgen(kind: str, args: tuple, queue) -> None:
    sys.path.insert(0, str(c.ROOT))
    import uvloop

    fn = _webhooks if kind == "webhooks" else _raw_publish
    queue.put(uvloop.run(fn(*args)))


def _in_child(kind: str, *args, pids: list[int] | None = None):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_loadgen, args=(kind, args, queue))
    proc.start()
    if pids is not None:
        pids.append(proc.pid)
    out = queue.get()
    proc.join()
    return out


class _CpuSampler(threading.Thread):
    """CPU of each watched process group and of the whole machine, sampled every `interval` seconds,
    so a sustained run shows where the time went as it goes (and whether others used the cores)."""

    def __init__(self, groups: dict[str, list[int]], interval: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.groups, self.interval = groups, interval
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._done = threading.Event()

    def _read(self) -> dict[str, float]:
        out = {k: sum(c.cpu_seconds(p) for p in list(v)) for k, v in self.groups.items()}
        out["machine"] = c.machine_busy_seconds()
        return out

    def _rss_mb(self) -> float:
        return sum(c.rss_bytes(p) for p in self.groups.get("http", [])) / 2**20

    def run(self) -> None:
        t_prev, prev = time.perf_counter(), self._read()
        while not self._done.wait(self.interval):
            t, now = time.perf_counter(), self._read()
            sample = {k: (now[k] - prev[k]) / (t - t_prev) for k in now}
            self.samples.append((t, {**sample, "http RSS MB": self._rss_mb()}))
            t_prev, prev = t, now

    def stop(self) -> None:
        self._done.set()
        self.join()


class _Watcher(threading.Thread):
    """Samples the projection lag every `interval` seconds on its own event loop; once told how many
    deliveries were acknowledged (`expect`), waits until all of them are in `event_log`.

    Lag at an instant: 0 when `event_log` holds every event on EVENTS, else how long the oldest one
    not yet stored has waited (now minus its JetStream timestamp, the moment it was acknowledged).
    `event_log` is written in stream order, batch after batch, so its top sequence says which that is."""

    def __init__(self, nats_url: str, pg_url: str, interval: float = 0.25, timeout: float = 600.0) -> None:
        super().__init__(daemon=True)
        self.nats_url, self.pg_url, self.interval, self.timeout = nats_url, pg_url, interval, timeout
        self.samples: list[tuple[float, float]] = []  # (perf_counter, lag s)
        self.stored_at: float | None = None
        self.stored = 0
        self.error: BaseException | None = None
        self._expect: int | None = None
        self._expect_set = threading.Event()
        self._ready = threading.Event()

    def expect(self, last_seq: int) -> None:
        self._expect = last_seq
        self._expect_set.set()

    def wait_ready(self) -> None:
        self._ready.wait(60)
        if self.error is not None:
            raise RuntimeError("the end-to-end watcher could not start") from self.error

    def wait_stored(self) -> None:
        self.join(self.timeout + 60)

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported by main
            self.error = exc
            self._ready.set()

    async def _main(self) -> None:
        from datetime import UTC, datetime

        import asyncpg
        import nats
        import nats.js.errors

        nc = await nats.connect(self.nats_url)
        js = nc.jetstream()
        conn = await asyncpg.connect(self.pg_url)
        from projectors.handlers import PROJECTOR

        give_up = time.perf_counter() + 60
        while True:  # the projectors' process is up once its durable exists
            try:
                await js.consumer_info("EVENTS", PROJECTOR)
                break
            except nats.js.errors.NotFoundError:
                if time.perf_counter() > give_up:
                    raise
                await asyncio.sleep(0.1)
        self._ready.set()
        deadline = None
        try:
            while True:
                now = time.perf_counter()
                stored = await conn.fetchval("SELECT coalesce(max(stream_seq), 0) FROM event_log")
                last = (await js.stream_info("EVENTS")).state.last_seq
                lag = 0.0
                if stored < last:
                    oldest = await js.get_msg("EVENTS", seq=stored + 1)
                    lag = max(0.0, (datetime.now(UTC) - oldest.time).total_seconds()) if oldest.time else 0.0
                self.samples.append((now, lag))
                self.stored = stored
                if self._expect is not None:
                    deadline = deadline or now + self.timeout
                    if stored >= self._expect:
                        self.stored_at = now
                        return
                    if now > deadline:
                        return
                await asyncio.sleep(self.interval)
        finally:
            await conn.close()
            await nc.close()


async def _event_log_counts(pg_url: str) -> tuple[int, int]:
    import asyncpg

    conn = await asyncpg.connect(pg_url)
    try:
        row = await conn.fetchrow("SELECT count(*), count(DISTINCT event_id) FROM event_log")
        return row[0], row[1]
    finally:
        await conn.close()


async def _stream_count(nats_url: str) -> int:
    import nats

    nc = await nats.connect(nats_url)
    try:
        return (await nc.jetstream().stream_info("EVENTS")).state.messages
    finally:
        await nc.close()


def _print_timeline(hooks: dict, samples: list, bucket: float = 2.0) -> None:
    """Answers/s and p99 per `bucket` seconds of the measured window, next to each process's CPU."""
    buckets: dict[int, list[float]] = {}
    for at, latency in hooks["timeline"]:
        buckets.setdefault(int(at // bucket), []).append(latency)
    print(f"timeline ({bucket:.0f} s buckets; CPU 1.0 = one core; 'machine' is every process on it, ours included):")
    for i in sorted(buckets):
        if (i + 1) * bucket > hooks["seconds"] + 1e-9:
            break  # a partial last bucket would read as a drop
        lat = sorted(buckets[i])
        mid = hooks["start"] + (i + 0.5) * bucket
        near = min(samples, key=lambda s: abs(s[0] - bucket / 2 - mid), default=None)
        cpu = ", ".join(f"{k} {v:.2f}" if v < 10 else f"{k} {v:.0f}" for k, v in near[1].items()) if near else ""
        per = f"{near[1]['http'] * bucket / len(lat) * 1e6:4.0f} µs http CPU/webhook | " if near else ""
        print(f"  {i * bucket:4.0f}-{(i + 1) * bucket:<4.0f}s {len(lat) / bucket:6.0f}/s "
              f"p99 {c.percentile(lat, 0.99) * 1000:5.1f} ms | {per}{cpu}")


def _report_end_to_end(hooks: dict, stored: int, e2e: dict) -> bool:
    """Print the end-to-end figures (adding them to `e2e`); True when a delivery is missing or doubled."""
    load = hooks["load_end"] - hooks["load_start"]
    acked_per_s = stored / load
    done = e2e["stored_at"]
    span = (done - hooks["load_start"]) if done is not None else float("nan")
    e2e["per_s"] = stored / span if done is not None else 0.0
    e2e["drain_s"] = max(0.0, done - hooks["load_end"]) if done is not None else float("inf")
    e2e["ratio"] = e2e["per_s"] / acked_per_s if acked_per_s else float("nan")
    during = sorted(lag for at, lag in e2e["samples"] if hooks["load_start"] <= at <= hooks["load_end"])
    e2e["lag_p99_s"] = c.percentile(during, 0.99) if during else float("nan")
    print(f"end to end: {stored} acknowledged in {load:.1f} s of load ({acked_per_s:.0f}/s, warm-up included); "
          f"all in event_log {e2e['drain_s']:.2f} s after the load ended → {e2e['per_s']:.0f}/s first request → "
          f"last row stored (ratio {e2e['ratio']:.2f})")
    if during:
        print(f"projection lag over {len(during)} samples during the load: p50 {c.percentile(during, 0.5):.2f} s, "
              f"p99 {e2e['lag_p99_s']:.2f} s, max {during[-1]:.2f} s")
    total = done - hooks["load_start"] if done is not None else load
    print("CPU seconds from load start to last row stored: "
          + ", ".join(f"{k} {v:.1f}" for k, v in e2e["cpu"].items())
          + f"; HTTP + workers per webhook: "
          f"{(e2e['cpu'].get('http', 0) + e2e['cpu'].get('workers', 0)) / max(1, stored) * 1e6:.0f} µs "
          f"(over {total:.1f} s)")
    if e2e["logged"] != stored or e2e["distinct"] != stored:
        print(f"ERROR: event_log holds {e2e['logged']} rows ({e2e['distinct']} distinct event ids) for {stored} "
              "acknowledged deliveries", file=sys.stderr)
        return True
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter run (5 s measured instead of 20 s)")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--http-procs", type=int, default=1,
                        help="`autoadvance http` replicas (clients are spread over them, as a load balancer would)")
    parser.add_argument("--http-workers", type=int, default=0,
                        help="HTTP_WORKERS of each `autoadvance http` (worker processes sharing its port); "
                             "0, the default here: one per CPU, as on a machine of its own")
    parser.add_argument("--layout", choices=LAYOUTS, default="dev",
                        help="dev (the default): `autoadvance dev`, what `make run` starts (HTTP, sandboxes, "
                             "every worker role in its child process); dev-one-process: the same with "
                             "DEV_WORKER_PROCESS=false; http: `autoadvance http` (HTTP_WORKERS) plus one "
                             "`autoadvance worker <role>` process per --roles, as in production")
    parser.add_argument("--dev", action="store_const", const="dev", dest="layout", help="the same as --layout dev")
    parser.add_argument("--roles", default="projectors",
                        help="with --layout http: the worker roles run beside the HTTP role, one `autoadvance "
                             "worker <role>` process each (comma-separated; '' for none: then nothing is measured "
                             "end to end)")
    parser.add_argument("--log-level", default="INFO", help="the HTTP role's LOG_LEVEL (INFO: one JSON line per webhook)")
    parser.add_argument("--profile", metavar="PATH",
                        help="run the (first) HTTP process under cProfile into PATH (use --http-workers 1)")
    parser.add_argument("--sync-interval", default="2m",
                        help="nats-server's JetStream sync_interval: `always` fsyncs before every ack (docs/deploy.md)")
    args = parser.parse_args()
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    warmup = 2.0 if args.quick else 3.0

    with c.embedded_infra("autoadvance-bench-ingest-", sync_interval=args.sync_interval) as infra:
        ports = [c.free_port() for _ in range(args.http_procs)]
        logs = [infra.folder / f"http-{i}.log" for i in range(args.http_procs)]
        from contextlib import ExitStack

        with ExitStack() as stack:
            procs = []
            dev = args.layout != "http"
            for port, log in zip(ports, logs, strict=True):
                env = infra.env(HTTP_PORT=str(port), LOG_LEVEL=args.log_level, HTTP_WORKERS=str(args.http_workers),
                                WEBHOOK_RATE_LIMIT_PER_S="1000000000", WEBHOOK_RATE_BURST="1000000000",
                                DEV_WORKER_PROCESS=str(args.layout == "dev").lower())
                profile = args.profile if args.profile and not procs else None
                command = ["dev"] if dev else ["http"]
                procs.append(stack.enter_context(c.service_process(command, env, log, profile)))
                c.wait_http(f"http://127.0.0.1:{port}/health", procs[-1], log)  # migrations run one at a time
            print(f"ingest ({args.layout} layout): {args.clients} clients → {len(ports)} "
                  f"`autoadvance {'dev' if dev else 'http'}` process(es)"
                  f"{'' if dev else f' with HTTP_WORKERS={args.http_workers}'}, "
                  f"{warmup:.0f} s warm-up + {seconds:.0f} s measured; LOG_LEVEL={args.log_level}; "
                  f"sync_interval {args.sync_interval}", flush=True)
            roles = [r for r in args.roles.split(",") if r]
            workers = []
            for role in [] if dev else roles:
                log = infra.folder / f"worker-{role}.log"
                env = infra.env(HTTP_PORT=str(c.free_port()), LOG_LEVEL="WARNING")
                workers.append(stack.enter_context(c.service_process(["worker", role], env, log)))
            watcher = _Watcher(infra.nats.url, infra.pg.url) if dev or "projectors" in roles else None
            if watcher is not None:
                watcher.start()
                watcher.wait_ready()  # the projectors' durable exists: the worker roles run
            if args.layout == "dev":  # the dev process serves HTTP; its child process runs the worker roles
                pids = {"http": [p.pid for p in procs], "nats-server": [infra.nats._proc.pid],
                        "workers": [q for p in procs for q in c.process_tree(p.pid) if q != p.pid]}
            else:
                pids = {"http": [q for p in procs for q in c.process_tree(p.pid)], "nats-server": [infra.nats._proc.pid]}
            if workers:
                pids["workers"] = [w.pid for w in workers]
            pids["postgres"] = c.postgres_pids(infra.pg)
            before = {k: sum(c.cpu_seconds(p) for p in v) for k, v in pids.items()}
            sampler = _CpuSampler({**pids, "load generator": []})
            sampler.start()
            t0 = time.perf_counter()
            hooks = _in_child("webhooks", ports, args.clients, warmup, seconds, 0,
                              pids=sampler.groups["load generator"])
            wall = time.perf_counter() - t0
            sampler.stop()
            cpu = {k: (sum(c.cpu_seconds(p) for p in v) - before[k]) / wall for k, v in pids.items()}
            cpu["load generator"] = hooks["cpu"]
            stored = asyncio.run(_stream_count(infra.nats.url))
            e2e = None
            if watcher is not None:
                watcher.expect(stored)
                watcher.wait_stored()
                logged, distinct = asyncio.run(_event_log_counts(infra.pg.url))
                e2e = {"stored_at": watcher.stored_at, "logged": logged, "distinct": distinct,
                       "samples": watcher.samples, "cpu": {k: (sum(c.cpu_seconds(p) for p in v) - before[k])
                                                           for k, v in pids.items()}}
        raw = _in_child("raw", infra.nats.url, args.clients, min(seconds, 10.0), 10**9)

    lat = sorted(hooks["latencies"])
    ok = hooks["statuses"].get(200, 0)
    per_s = ok / hooks["seconds"]
    p50, p99 = c.percentile(lat, 0.50) * 1000, c.percentile(lat, 0.99) * 1000
    others = {k: v for k, v in hooks["statuses"].items() if k != 200}
    print(f"webhooks: {ok} answered 200 in the {hooks['seconds']:.0f} s window, other statuses {others or 'none'}; "
          f"{hooks['sent']} sent in all, {stored} events on EVENTS (every 200 is one stored event)")
    print("CPU use during the run (1.0 = one core of 2): "
          + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
    if ok:
        print(f"HTTP process CPU per webhook sent (warm-up included): {cpu['http'] * wall / (hooks['sent']) * 1e6:.0f} µs")
    _print_timeline(hooks, sampler.samples)
    print(f"latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {lat[-1] * 1000 if lat else float('nan'):.1f} ms")
    print(f"raw JetStream publish ({raw['bytes']} B envelopes, Nats-Msg-Id): {raw['awaited_per_s']:.0f}/s with "
          f"{args.clients} publishers each awaiting its ack; {raw['pipelined_per_s']:.0f}/s pipelined (256 in flight)")
    ratio = per_s / raw["awaited_per_s"] if raw["awaited_per_s"] else float("nan")
    print(f"ratio webhooks/raw (same concurrency): {ratio:.2f}")
    failed = bool(others)
    if stored < hooks["sent"] - args.clients and not others:
        print("WARNING: fewer events stored than webhooks answered", file=sys.stderr)
    if e2e is not None:
        failed = _report_end_to_end(hooks, stored, e2e) or failed
    c.result("webhooks_per_s", per_s, "1/s")
    c.result("webhook_p99_ms", p99, "ms")
    c.result("webhook_p50_ms", p50, "ms")
    c.result("raw_publish_per_s", raw["awaited_per_s"], "1/s")
    c.result("raw_publish_pipelined_per_s", raw["pipelined_per_s"], "1/s")
    c.result("webhooks_ratio_to_raw", ratio, "ratio")
    if e2e is not None:
        c.result("ingest_end_to_end_per_s", e2e["per_s"], "req/s")
        c.result("ingest_drain_s", e2e["drain_s"], "s")
        c.result("projection_lag_p99_s", e2e["lag_p99_s"], "s")
        c.result("ingest_end_to_end_ratio", e2e["ratio"], "ratio")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
