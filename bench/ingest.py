"""Webhook ingest benchmark: signed `interviewScheduleUpdate` webhooks → POST /webhooks/ashby → EVENTS.

The HTTP role runs as its own `autoadvance http` process (as in production) against an embedded
nats-server and PostgreSQL; the load generator is another process (raw asyncio streams, HTTP/1.1
keep-alive, one connection per client, each waiting for its answer before sending the next).
In the same run it measures the raw limit: nats-py JetStream publishes of the same envelopes with
`Nats-Msg-Id`, each awaited for its ack, from as many concurrent publishers as there are clients.

    .venv/bin/python bench/ingest.py [--quick] [--clients 64] [--seconds S] [--http-procs N] [--http-workers N]

It prints a timeline (2 s buckets) of answers/s, p99, HTTP CPU per webhook and the CPU of each
process and of the whole machine, so a drop over a sustained run can be traced to its cause.

Ends with `RESULT webhooks_per_s`, `RESULT webhook_p99_ms` and informative RESULT lines.
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
            "start": window[0]}  # perf_counter is CLOCK_MONOTONIC: the parent's clock too


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
            for port, log in zip(ports, logs, strict=True):
                env = infra.env(HTTP_PORT=str(port), LOG_LEVEL=args.log_level, HTTP_WORKERS=str(args.http_workers),
                                WEBHOOK_RATE_LIMIT_PER_S="1000000000", WEBHOOK_RATE_BURST="1000000000")
                profile = args.profile if args.profile and not procs else None
                procs.append(stack.enter_context(c.service_process(["http"], env, log, profile)))
                c.wait_http(f"http://127.0.0.1:{port}/health", procs[-1], log)  # migrations run one at a time
            print(f"ingest: {args.clients} clients → {len(ports)} `autoadvance http` process(es) with HTTP_WORKERS="
                  f"{args.http_workers}, "
                  f"{warmup:.0f} s warm-up + {seconds:.0f} s measured; LOG_LEVEL={args.log_level}; "
                  f"sync_interval {args.sync_interval}", flush=True)
            pids = {"http": [q for p in procs for q in c.process_tree(p.pid)], "nats-server": [infra.nats._proc.pid]}
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
    if stored < hooks["sent"] - args.clients and not others:
        print("WARNING: fewer events stored than webhooks answered", file=sys.stderr)
    c.result("webhooks_per_s", per_s, "1/s")
    c.result("webhook_p99_ms", p99, "ms")
    c.result("webhook_p50_ms", p50, "ms")
    c.result("raw_publish_per_s", raw["awaited_per_s"], "1/s")
    c.result("raw_publish_pipelined_per_s", raw["pipelined_per_s"], "1/s")
    c.result("webhooks_ratio_to_raw", ratio, "ratio")
    return 0 if not others else 1


if __name__ == "__main__":
    sys.exit(main())
