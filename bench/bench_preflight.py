"""Benchmark preflight against Azurite: listing-only vs full probing, sequential vs concurrent probing, listing 1,000
blobs, the seed's failure (key refused + missing prefix) to verdict, Great Expectations start-up, and peak memory.

Prints measurements side by side from one run; asserts nothing. Needs `make azurite`. About a minute at the defaults
on 2 cores; scale with --videos, --blobs, --width/--height/--seconds.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
for key, value in {"DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false"}.items():
    os.environ.setdefault(key, value)

from tasks.clock import FakeClock  # noqa: E402
from tasks.datastore import AzureBlob, DatastoreInfo, resolve_location  # noqa: E402
from tasks.preflight import PreflightOptions, run_preflight  # noqa: E402
from tests.azurite import (  # noqa: E402 - the same local stand-ins the tests use
    ACCOUNT, ACCOUNT_KEY, AzuriteServer, IdentityEndpoint, KeyRefusingProxy, TLSFiles,
)

CONTAINER = "bench"


class Workspace:
    def __init__(self, account_url: str) -> None:
        self.info = DatastoreInfo("workspaceblobstore", ACCOUNT, CONTAINER, "account_key", ACCOUNT_KEY, account_url=account_url)

    def get_datastore(self, name: str) -> DatastoreInfo:
        return self.info


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def make_clips(folder: Path, count: int, width: int, height: int, seconds: float) -> list[Path]:
    from flows.sample_data import write_clip

    paths = []
    for index in range(count):
        path = folder / f"images_{1 + index // 50}_{index % 50 + 1:03d}.avi"
        write_clip(path, seed=index, width=width, height=height, fps=10, seconds=seconds, emerge_at=None)
        paths.append(path)
    return paths


def upload_many(server: AzuriteServer, items: dict[str, bytes | Path], workers: int = 8) -> None:
    container = server.service_client().get_container_client(CONTAINER)
    if not container.exists():
        container.create_container()

    def put(item):
        name, data = item
        container.upload_blob(name, data.read_bytes() if isinstance(data, Path) else data, overwrite=True)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(put, items.items()))


def preflight(account_url: str, prefix: str, **options):
    return run_preflight(PreflightOptions(uri=f"azureml://datastores/workspaceblobstore/paths/{prefix}",
                                          workspace=Workspace(account_url), clock=FakeClock(), **options))


def best_of(repeat: int, function, *args, **kwargs):
    times = []
    result = None
    for _ in range(repeat):
        result, seconds = timed(function, *args, **kwargs)
        times.append(seconds)
    return result, min(times)


def seed_situation(workdir: Path) -> float:
    """Seconds from run_preflight to its verdict when the account refuses keys and the prefix is misspelled."""
    tls = TLSFiles.create(workdir)
    server = AzuriteServer(workdir, tls=tls, oauth=True)
    endpoint = IdentityEndpoint()
    saved = {name: os.environ.get(name) for name in ("REQUESTS_CA_BUNDLE", "MSI_ENDPOINT", "MSI_SECRET")}
    os.environ.update({"REQUESTS_CA_BUNDLE": str(tls.ca), **endpoint.environment("azureml")})
    proxy = KeyRefusingProxy(server, tls=tls)
    try:
        server.upload(CONTAINER, {"DADA-100-Videos/images_1_001.avi": b"x"})
        result, seconds = timed(preflight, proxy.account_url, "DADA-100-videos/")
        assert not result.passed and result.access.switched_to_identity, "the seed situation did not reproduce"
        print(f"  verdict: {[f.id for f in result.blocking]} blocking, {[f.id for f in result.warnings]} warning, "
              f"suggested {result.access.suggestions}")
        return seconds
    finally:
        proxy.stop()
        endpoint.stop()
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=100, help="synthetic videos to preflight (default 100)")
    parser.add_argument("--blobs", type=int, default=1000, help="blobs for the listing benchmark (default 1000)")
    parser.add_argument("--width", type=int, default=160, help="clip width (default 160)")
    parser.add_argument("--height", type=int, default=96, help="clip height (default 96)")
    parser.add_argument("--seconds", type=float, default=6.0, help="clip length (default 6)")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent probes (default 4)")
    parser.add_argument("--repeat", type=int, default=2, help="best of N for each timing (default 2)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-preflight-") as scratch:
        scratch = Path(scratch)
        (scratch / "clips").mkdir()
        (scratch / "oauth").mkdir()
        print(f"preflight benchmark: {args.videos} clips {args.width}x{args.height} {args.seconds}s at 10 fps, "
              f"{os.cpu_count()} CPUs")
        import_seconds = timed(lambda: __import__("great_expectations"))[1]
        from tasks.preflight.expectations import _context, load_suite
        context_seconds = timed(lambda: (load_suite(), _context()))[1]
        print(f"Great Expectations: import {import_seconds:.2f}s, ephemeral context + suite {context_seconds:.2f}s "
              "(once per process)")

        clips, clip_seconds = timed(make_clips, scratch / "clips", args.videos, args.width, args.height, args.seconds)
        megabytes = sum(path.stat().st_size for path in clips) / 1e6
        print(f"generated {len(clips)} clips ({megabytes:.1f} MB) in {clip_seconds:.1f}s")

        server = AzuriteServer(scratch)
        try:
            _, upload_seconds = timed(upload_many, server, {f"videos/{path.name}": path for path in clips})
            _, blob_upload_seconds = timed(upload_many, server, {f"many/{index:05d}.avi": b"x" for index in range(args.blobs)})
            print(f"uploaded to Azurite: videos {upload_seconds:.1f}s, {args.blobs} small blobs {blob_upload_seconds:.1f}s")

            common = dict(expected_count=args.videos)
            listing_only, t_listing = best_of(args.repeat, preflight, server.account_url, "videos", probe_sample=0, **common)
            full_sequential, t_sequential = best_of(args.repeat, preflight, server.account_url, "videos",
                                                    probe_sample=args.videos, concurrency=1, **common)
            full_concurrent, t_concurrent = best_of(args.repeat, preflight, server.account_url, "videos",
                                                    probe_sample=args.videos, concurrency=args.concurrency, **common)
            default_sample, t_default = best_of(args.repeat, preflight, server.account_url, "videos", **common)
            for result in (listing_only, full_sequential, full_concurrent, default_sample):
                assert result.passed, result.to_markdown()

            location = resolve_location(f"azureml://datastores/workspaceblobstore/paths/many", Workspace(server.account_url))
            store = AzureBlob(location, "account_key")
            listed, t_list = best_of(args.repeat, store.list)

            tracemalloc.start()
            preflight(server.account_url, "videos", probe_sample=args.videos, concurrency=args.concurrency, **common)
            _, python_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        finally:
            server.stop()

        t_seed = seed_situation(scratch / "oauth")
        rss_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print()
    print(f"{'measurement':58s} {'seconds':>9s}")
    rows = [
        (f"listing only + checks ({args.videos} videos, no probes)", t_listing),
        (f"default blob sample (10 probed of {args.videos})", t_default),
        (f"full probing, sequential (concurrency 1)", t_sequential),
        (f"full probing, concurrent (concurrency {args.concurrency})", t_concurrent),
        (f"list {len(listed)} blobs", t_list),
        ("seed situation: key refused -> identity -> missing prefix verdict", t_seed),
    ]
    for name, seconds in rows:
        print(f"{name:58s} {seconds:9.3f}")
    print()
    print(f"full probing / listing only:            {t_sequential / t_listing:6.2f}x (sequential), "
          f"{t_concurrent / t_listing:6.2f}x (concurrent)")
    print(f"sequential / concurrent probing:        {t_sequential / t_concurrent:6.2f}x")
    print(f"per-video probe (download + decode):    {1000 * (t_sequential - t_listing) / args.videos:6.1f} ms sequential")
    print(f"listing throughput:                     {len(listed) / t_list:8.0f} blobs/s")
    print(f"peak Python allocations (tracemalloc), full concurrent probe: {python_peak / 1e6:.1f} MB")
    print(f"peak RSS of this process (GX, pandas, decord, SDK loaded):   {rss_peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
