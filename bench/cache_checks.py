"""What the embedding cache's checks cost: reading cached vectors with and without them, and the encoder fingerprint.

    python bench/cache_checks.py [--n 10000] [--repeats 5]

Writes ``--n`` random 384-wide vectors in shards of ``EmbeddingCache.FLUSH_TEXTS`` (as encoding does) to a
temporary folder, then reads them all back with a fresh cache: once with every check (format, writer's
fingerprint, SHA-256 checksum, width, finite), once reading the arrays only (the reference, as before the
checks).  Then hashes the bundled all-MiniLM-L6-v2 folder cold (memo emptied) and warm (memo hit: a stat
per file).  Prints medians over ``--repeats`` runs and the ratio; the page cache is warm in every run.
Wall times depend on the machine's load.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not

from recsys_core import encoder as encoder_module
from recsys_core.embedding_cache import EmbeddingCache
from recsys_core.encoder import encoder_fingerprint, resolve_encoder_path


class UncheckedCache(EmbeddingCache):
    """The reference: reads a shard's arrays and nothing else."""

    def _read_shard(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
            return data["hashes"], data["vectors"]


def _median_seconds(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    fingerprint = encoder_fingerprint("default")
    texts = [f"item text number {i}" for i in range(args.n)]
    vectors = np.random.default_rng(0).standard_normal((args.n, fingerprint.width)).astype(np.float32)
    with tempfile.TemporaryDirectory() as root:
        writer = EmbeddingCache(root, "k", encoder=fingerprint.digest, width=fingerprint.width)
        step = EmbeddingCache.FLUSH_TEXTS
        for start in range(0, args.n, step):
            writer.put_many(texts[start : start + step], vectors[start : start + step])
        shards = len(list(Path(root, "k").glob("shard-*.npz")))

        def checked() -> None:
            got = EmbeddingCache(root, "k", encoder=fingerprint.digest, width=fingerprint.width).get_many(texts)
            assert len(got) == args.n

        def unchecked() -> None:
            assert len(UncheckedCache(root, "k").get_many(texts)) == args.n

        checked()  # warm the page cache
        t_checked = _median_seconds(checked, args.repeats)
        t_unchecked = _median_seconds(unchecked, args.repeats)
    print(f"reading {args.n:,} cached vectors ({fingerprint.width} wide, {shards} shards), median of {args.repeats}:")
    print(f"  with checks      {t_checked * 1000:8.1f} ms")
    print(f"  arrays only      {t_unchecked * 1000:8.1f} ms   (reference)")
    print(f"  checks cost      {(t_checked - t_unchecked) * 1000:8.1f} ms = x{t_checked / t_unchecked:.2f} the reference")

    folder = Path(resolve_encoder_path("default"))
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())

    def cold() -> None:
        encoder_module._file_digests.clear()
        encoder_fingerprint("default")

    t_cold = _median_seconds(cold, args.repeats)
    t_warm = _median_seconds(lambda: encoder_fingerprint("default"), args.repeats)
    print(f"fingerprint of {folder.name}/ ({size / 1e6:.1f} MB), median of {args.repeats}:")
    print(f"  first hash (cold memo)   {t_cold * 1000:8.1f} ms")
    print(f"  memo hit (stat only)     {t_warm * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
