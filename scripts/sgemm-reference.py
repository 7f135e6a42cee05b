#!/usr/bin/env python3
"""Reference sgemm GFLOP/s on this machine, to compare with `cargo bench --bench groundtruth`.

Times numpy's float32 matrix product (OpenBLAS in the PyPI wheels) on the same shape as the
ground-truth bench: 1,000 queries x POINTS points x DIM dims, single-threaded and on all cores.
Needs numpy and threadpoolctl (`pip install numpy threadpoolctl`). Run it in the same sitting as
the bench: the figure moves with the machine's load and clock.

On some processors OPENBLAS_CORETYPE is set to work around old OpenBLAS bugs; it slows a current
numpy, so unset it (and OPENBLAS_L2_SIZE) for this command only to see the tuned kernel:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 scripts/sgemm-reference.py
"""

import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

QUERIES = 1000
POINTS = int(os.environ.get("QDRANT_PERF_GT_POINTS", "10000"))
DIMS = [int(d) for d in sys.argv[1:]] or [768, 1536, 4096]


def gflops(q, x, repeats=5):
    q @ x.T  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        q @ x.T
        best = min(best, time.perf_counter() - t)
    return 2 * q.shape[0] * x.shape[0] * q.shape[1] / best / 1e9


def main():
    rng = np.random.default_rng(42)
    for info in threadpool_info():
        print(f"# {info.get('internal_api')} {info.get('version')} "
              f"arch={info.get('architecture')} threads={info.get('num_threads')}")
    print(f"# sgemm of {QUERIES} x {POINTS} (x dim), best of 5, GFLOP/s")
    for dim in DIMS:
        q = rng.standard_normal((QUERIES, dim), dtype=np.float32)
        x = rng.standard_normal((POINTS, dim), dtype=np.float32)
        with threadpool_limits(limits=1):
            one = gflops(q, x)
        every = gflops(q, x)
        print(f"dim {dim}: 1 thread {one:.1f} GFLOP/s, all {os.cpu_count()} cores {every:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
