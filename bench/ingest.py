"""Webhook ingest benchmark: signed `interviewScheduleUpdate` webhooks → POST /webhooks/ashby → EVENTS.

The HTTP role runs as its own `autoadvance http` process (as in production) against an embedded
nats-server and PostgreSQL; the load generator is another process (raw asyncio streams, HTTP/1.1
keep-alive, one connection per client, each waiting for its answer before sending the next).
In the same run it measures the raw limit: nats-py JetStream publishes of the same envelopes with
`Nats-Msg-Id`, each awaited for its ack, from as many concurrent publishers as there are clients.

    .venv/bin/python bench/ingest.py [--quick] [--clients 64] [--seconds S] [--http-procs N]

Ends with `RESULT webhooks_per_s`, `RESULT webhook_p99_ms` and informative RESULT lines.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
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


def _request(port: int, body: bytes) -> bytes:
    head = (b"POST " + PATH + b" HTTP/1.1\r\nHost: 127.0.0.1:" + str(port).encode()
            + b"\r\nContent-Type: application/json\r\nAshby-Signature: " + c.sign(body).encode()
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    return head + body


async def _one_client(port: int, seq: list[int], offset: int, templates: list, window: tuple[float, float],
                      stop_at: float, latencies: list[float], statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
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
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                    break
            if length:
                await reader.readexactly(length)
            t1 = time.perf_counter()
            if start <= t0 and t1 <= end:
                latencies.append(t1 - t0)
                statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _webhooks(ports: list[int], clients: int, warmup: float, seconds: float, offset: int) -> dict:
    templates = _templates()
    cpu0 = time.process_time()
    now = time.perf_counter()
    window = (now + warmup, now + warmup + seconds)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    seq = [0]
    await asyncio.gather(*(_one_client(ports[i % len(ports)], seq, offset, templates, window, window[1],
                                       latencies, statuses) for i in range(clients)))
    return {"latencies": latencies, "statuses": statuses, "seconds": seconds, "sent": seq[0],
            "cpu": (time.process_time() - cpu0) / (time.perf_counter() - now)}


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


def _in_child(kind: str, *args):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_loadgen, args=(kind, args, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


async def _stream_count(nats_url: str) -> int:
    import nats

    nc = await nats.connect(nats_url)
    try:
        return (await nc.jetstream().stream_info("EVENTS")).state.messages
    finally:
        await nc.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter run (5 s measured instead of 20 s)")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--http-procs", type=int, default=1,
                        help="`autoadvance http` replicas (clients are spread over them, as a load balancer would)")
    parser.add_argument("--log-level", default="INFO", help="the HTTP role's LOG_LEVEL (INFO: one JSON line per webhook)")
    parser.add_argument("--profile", metavar="PATH", help="run the (first) HTTP process under cProfile into PATH")
    args = parser.parse_args()
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    warmup = 2.0 if args.quick else 3.0

    with c.embedded_infra("autoadvance-bench-ingest-") as infra:
        ports = [c.free_port() for _ in range(args.http_procs)]
        logs = [infra.folder / f"http-{i}.log" for i in range(args.http_procs)]
        from contextlib import ExitStack

        with ExitStack() as stack:
            procs = []
            for port, log in zip(ports, logs, strict=True):
                env = infra.env(HTTP_PORT=str(port), LOG_LEVEL=args.log_level,
                                WEBHOOK_RATE_LIMIT_PER_S="1000000000", WEBHOOK_RATE_BURST="1000000000")
                profile = args.profile if args.profile and not procs else None
                procs.append(stack.enter_context(c.service_process(["http"], env, log, profile)))
                c.wait_http(f"http://127.0.0.1:{port}/health", procs[-1], log)  # migrations run one at a time
            print(f"ingest: {args.clients} clients → {len(ports)} `autoadvance http` process(es), "
                  f"{warmup:.0f} s warm-up + {seconds:.0f} s measured; LOG_LEVEL={args.log_level}", flush=True)
            pids = {"http": [p.pid for p in procs], "nats-server": [infra.nats._proc.pid]}
            before = {k: sum(c.cpu_seconds(p) for p in v) for k, v in pids.items()}
            t0 = time.perf_counter()
            hooks = _in_child("webhooks", ports, args.clients, warmup, seconds, 0)
            wall = time.perf_counter() - t0
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
        print(f"HTTP process CPU per answered webhook: {cpu['http'] * wall / (hooks['sent']) * 1e6:.0f} µs")
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
