"""Encoding throughput: recsys_core's TextEncoder vs sentence-transformers' encode(), same model, same texts.

    python bench/encoding.py [--n 1000] [--batch-size 64]

Both use the bundled all-MiniLM-L6-v2 with mean pooling on the CPU; the
embedding cache is off, so both really encode.  Prints texts/second and the
ratio (>1 means recsys_core is faster), plus the max difference of the vectors.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recsys_core from a checkout, installed or not

from recsys_core.demo import load_demo_dataset
from recsys_core.encoder import EncoderConfig, TextEncoder, resolve_encoder_path
from recsys_core.text import build_texts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    data = load_demo_dataset()
    texts = [t.text for t in build_texts(data.items, "item_id", data.item_fields).values()][: args.n]
    print(f"{len(texts)} demo item texts, torch threads {torch.get_num_threads()}")

    ours = TextEncoder(EncoderConfig(batch_size=args.batch_size, max_length=128))
    ours.encode(texts[:8])  # load weights outside the timing
    started = time.perf_counter()
    a = ours.encode(texts)
    t_ours = time.perf_counter() - started

    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(resolve_encoder_path("default"), device="cpu")
    st.max_seq_length = 128
    st.encode(texts[:8])
    started = time.perf_counter()
    b = st.encode(texts, batch_size=args.batch_size, normalize_embeddings=False, convert_to_numpy=True)
    t_st = time.perf_counter() - started
    # sentence-transformers' all-MiniLM pipeline ends with Normalize(); compare directions.
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    print(f"recsys_core TextEncoder : {len(texts) / t_ours:8.1f} texts/s ({t_ours:.1f} s)")
    print(f"sentence-transformers   : {len(texts) / t_st:8.1f} texts/s ({t_st:.1f} s)")
    print(f"speed ratio (ours / sentence-transformers): {t_st / t_ours:.2f}")
    print(f"max |difference| of normalised vectors: {np.abs(an - bn).max():.2e}")


if __name__ == "__main__":
    main()
