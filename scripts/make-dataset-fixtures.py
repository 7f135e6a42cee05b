#!/usr/bin/env python3
"""Writes the small datasets under fixtures/datasets/ with the reference writers themselves
(h5py, numpy, pyarrow), so the suite's readers are tested on files those libraries made.

    pip install h5py numpy pyarrow
    python3 scripts/make-dataset-fixtures.py

Deterministic (fixed seed); the output is checked in, so this only runs when the fixtures change.

- same/: one 16-d dataset (200 train, 20 test, top-10 exact cosine neighbours computed here with
  numpy) written in every format: ann.hdf5 (and ann-gzip.hdf5, ann-f64.hdf5: chunked and
  compressed, float64, the newest HDF5 format), npy/, parquet/, bin/ (base.fbin, query.fbin,
  groundtruth.ibin: the suite's own format), fvecs/ (base.fvecs, query.fvecs, gt.ivecs),
  notruth/ (npy without neighbours), u8/ (base.u8bin, query.u8bin and the same bytes as
  train.npy / test.npy uint8).
- deepcoder-768.hdf5 and deepcoder-768-parquet/: 48 train, 6 test, 768-d (the dimension of the
  bundled `deepcoder` profile) for the end-to-end bench and sweep runs.
- deepcoder-768-filtered-parquet/: 100 train (written in row groups of 25), 10 test, 768-d, and
  train's scalar columns `category` (string, 5 values of unequal frequency), `year` (int64),
  `score` (float64, null in every 20th row) and `active` (bool), the payload fields the filtered
  bench filters on. The vector values are multiples of 1/8 in [-1, 1), so pyarrow's default
  dictionary encoding keeps the file near 40 KB.
- wrong-truth.hdf5 and wrong-truth-npy/: 300 train, 20 test, 16-d, top-100 cosine neighbours
  that are exact for 18 queries and wrong for 2 (10 %, queries 3 and 17): their top-10 replaced
  by the 10 farthest points, the rest of their top-100 reversed. The suite must report those 2
  queries and use the exact truth instead.
- bad/: one directory or file per bad input the readers must refuse.
"""

import os
import shutil

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "datasets")


def exact_cosine(train, test, k):
    t = train / np.linalg.norm(train, axis=1, keepdims=True)
    q = test / np.linalg.norm(test, axis=1, keepdims=True)
    scores = q @ t.T
    # Higher is better; stable sort so that ties keep the smaller id first, as the suite does.
    return np.argsort(-scores, axis=1, kind="stable")[:, :k].astype(np.int32)


def write_bin(path, a, dtype):
    a = np.ascontiguousarray(a, dtype=dtype)
    with open(path, "wb") as f:
        f.write(np.array(a.shape, dtype="<u4").tobytes())
        f.write(a.tobytes())


def write_vecs(path, a, dtype):
    a = np.ascontiguousarray(a, dtype=dtype)
    with open(path, "wb") as f:
        for row in a:
            f.write(np.array([len(row)], dtype="<i4").tobytes())
            f.write(row.tobytes())


def write_hdf5(path, train, test, neighbors, distance="angular", fixed_string=False,
               libver=None, **storage):
    """h5py's defaults (contiguous, a variable-length UTF-8 `distance`), or with `storage`
    options per dataset (chunks, compression, shuffle), a fixed-length ASCII `distance` and the
    newest file format (libver="latest": other chunk indexes and object headers)."""
    with h5py.File(path, "w", libver=libver or "earliest") as f:
        f.attrs["distance"] = np.bytes_(distance) if fixed_string else distance
        for name, a in (("train", train), ("test", test), ("neighbors", neighbors)):
            if a is None:
                continue
            opts = dict(storage)
            if "chunks" in opts:
                # Chunks of up to 48 rows: 200 rows end in a partial chunk.
                opts["chunks"] = (min(48, len(a)), a.shape[1])
            f.create_dataset(name, data=a, **opts)


def write_npy(d, train, test, neighbors):
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "train.npy"), train)
    np.save(os.path.join(d, "test.npy"), test)
    if neighbors is not None:
        np.save(os.path.join(d, "neighbors.npy"), neighbors.astype(np.int64))


def emb_table(vectors, extra=None):
    cols = {
        "id": pa.array(np.arange(len(vectors), dtype=np.int64)),
        "emb": pa.array([list(map(float, v)) for v in vectors], type=pa.list_(pa.float32())),
    }
    cols.update(extra or {})
    return pa.table(cols)


def write_parquet(d, train, test, neighbors, scalars=True):
    os.makedirs(d, exist_ok=True)
    extra = None
    if scalars:
        n = len(train)
        extra = {
            "category": pa.array([["red", "green", "blue"][i % 3] for i in range(n)]),
            "price": pa.array(np.arange(n, dtype=np.int64) * 10),
        }
    pq.write_table(emb_table(train, extra), os.path.join(d, "train.parquet"))
    pq.write_table(emb_table(test), os.path.join(d, "test.parquet"))
    if neighbors is not None:
        t = pa.table(
            {
                "id": pa.array(np.arange(len(neighbors), dtype=np.int64)),
                "neighbors_id": pa.array(
                    [list(map(int, r)) for r in neighbors], type=pa.list_(pa.int64())
                ),
            }
        )
        pq.write_table(t, os.path.join(d, "neighbors.parquet"))


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(ROOT)
    rng = np.random.default_rng(21)

    # --- one dataset in every format ---
    train = rng.standard_normal((200, 16)).astype(np.float32)
    test = rng.standard_normal((20, 16)).astype(np.float32)
    nb = exact_cosine(train, test, 10)
    same = os.path.join(ROOT, "same")
    os.makedirs(same)
    write_hdf5(os.path.join(same, "ann.hdf5"), train, test, nb)
    # The same data as h5py writes it compressed: chunked, gzip and shuffle, int64 neighbours.
    write_hdf5(os.path.join(same, "ann-gzip.hdf5"), train, test, nb.astype(np.int64),
               chunks=True, compression="gzip", compression_opts=6, shuffle=True)
    # float64 vectors, int32 neighbours, gzip without shuffle, a fixed-length `distance`, the
    # newest file format.
    write_hdf5(os.path.join(same, "ann-f64.hdf5"), train.astype(np.float64),
               test.astype(np.float64), nb, fixed_string=True, libver="latest",
               chunks=True, compression="gzip", compression_opts=4)
    write_npy(os.path.join(same, "npy"), train, test, nb)
    write_npy(os.path.join(same, "notruth"), train, test, None)
    write_parquet(os.path.join(same, "parquet"), train, test, nb)
    b = os.path.join(same, "bin")
    os.makedirs(b)
    write_bin(os.path.join(b, "base.fbin"), train, "<f4")
    write_bin(os.path.join(b, "query.fbin"), test, "<f4")
    write_bin(os.path.join(b, "groundtruth.ibin"), nb, "<i4")
    v = os.path.join(same, "fvecs")
    os.makedirs(v)
    write_vecs(os.path.join(v, "base.fvecs"), train, "<f4")
    write_vecs(os.path.join(v, "query.fvecs"), test, "<f4")
    write_vecs(os.path.join(v, "gt.ivecs"), nb, "<i4")
    u8train = rng.integers(0, 256, (200, 16), dtype=np.uint8)
    u8test = rng.integers(0, 256, (20, 16), dtype=np.uint8)
    u = os.path.join(same, "u8")
    os.makedirs(u)
    write_bin(os.path.join(u, "base.u8bin"), u8train, "u1")
    write_bin(os.path.join(u, "query.u8bin"), u8test, "u1")
    u_npy = os.path.join(same, "u8-npy")
    write_npy(u_npy, u8train, u8test, None)
    bv = os.path.join(same, "bvecs")
    os.makedirs(bv)
    write_vecs(os.path.join(bv, "base.bvecs"), u8train, "u1")
    write_vecs(os.path.join(bv, "query.bvecs"), u8test, "u1")

    # --- 768-d, the dimension of the bundled `deepcoder` profile, for end-to-end runs ---
    train = rng.standard_normal((48, 768)).astype(np.float32)
    test = rng.standard_normal((6, 768)).astype(np.float32)
    nb = exact_cosine(train, test, 10)
    write_hdf5(os.path.join(ROOT, "deepcoder-768.hdf5"), train, test, nb)
    write_parquet(os.path.join(ROOT, "deepcoder-768-parquet"), train, test, None)

    # --- bad inputs ---
    bad = os.path.join(ROOT, "bad")
    os.makedirs(bad)
    small = rng.standard_normal((10, 4)).astype(np.float32)
    q = rng.standard_normal((3, 4)).astype(np.float32)
    nan = small.copy()
    nan[3, 2] = np.nan
    write_npy(os.path.join(bad, "nan"), nan, q, None)
    inf = q.copy()
    inf[1, 0] = np.inf
    write_npy(os.path.join(bad, "inf-test"), small, inf, None)
    write_npy(os.path.join(bad, "dims"), small, rng.standard_normal((3, 5)).astype(np.float32), None)
    write_npy(os.path.join(bad, "empty-test"), small, np.zeros((0, 4), dtype=np.float32), None)
    write_npy(os.path.join(bad, "empty-train"), np.zeros((0, 4), dtype=np.float32), q, None)
    past = np.array([[0, 1], [2, 10], [3, 4]], dtype=np.int32)
    write_hdf5(os.path.join(bad, "past-train.hdf5"), small, q, past, "euclidean")
    write_hdf5(os.path.join(bad, "unknown-distance.hdf5"), small, q, None, "hamming")
    # Mixed dimensions in Parquet: row 5 has 3 values.
    rows = [list(map(float, r)) for r in small]
    rows[5] = rows[5][:3]
    d = os.path.join(bad, "mixed-parquet")
    os.makedirs(d)
    pq.write_table(
        pa.table({"id": pa.array(range(10), pa.int64()), "emb": pa.array(rows, pa.list_(pa.float32()))}),
        os.path.join(d, "train.parquet"),
    )
    pq.write_table(emb_table(q), os.path.join(d, "test.parquet"))
    # An embedding column of strings, not a list of floats.
    d = os.path.join(bad, "strings-parquet")
    os.makedirs(d)
    pq.write_table(
        pa.table({"id": pa.array(range(10), pa.int64()), "emb": pa.array([str(list(r)) for r in small])}),
        os.path.join(d, "train.parquet"),
    )
    pq.write_table(emb_table(q), os.path.join(d, "test.parquet"))
    # A list of strings.
    d = os.path.join(bad, "liststr-parquet")
    os.makedirs(d)
    pq.write_table(
        pa.table(
            {
                "id": pa.array(range(10), pa.int64()),
                "emb": pa.array([[str(x) for x in r] for r in small], pa.list_(pa.string())),
            }
        ),
        os.path.join(d, "train.parquet"),
    )
    pq.write_table(emb_table(q), os.path.join(d, "test.parquet"))
    d = os.path.join(bad, "unknown")
    os.makedirs(d)
    with open(os.path.join(d, "vectors.csv"), "w") as f:
        f.write("1,2,3\n")


    # --- 768-d with payload columns, for the filtered bench (its own seed: the files above do
    # not change when this one does) ---
    frng = np.random.default_rng(2121)
    n = 100
    train = (frng.integers(-8, 8, (n, 768)) / 8.0).astype(np.float32)
    test = (frng.integers(-8, 8, (10, 768)) / 8.0).astype(np.float32)
    categories = ["news", "code", "chat", "math", "legal"]
    weights = np.array([0.4, 0.3, 0.15, 0.1, 0.05])
    extra = {
        "category": pa.array([categories[i] for i in frng.choice(5, n, p=weights)]),
        "year": pa.array(frng.integers(2000, 2026, n), type=pa.int64()),
        "score": pa.array(
            [None if i % 20 == 0 else round(float(x), 3) for i, x in enumerate(frng.random(n))],
            type=pa.float64(),
        ),
        "active": pa.array([bool(i % 3) for i in range(n)]),
    }
    d = os.path.join(ROOT, "deepcoder-768-filtered-parquet")
    os.makedirs(d)
    pq.write_table(emb_table(train, extra), os.path.join(d, "train.parquet"), row_group_size=25)
    pq.write_table(emb_table(test), os.path.join(d, "test.parquet"))

    # --- a shipped truth wrong for 10 % of its queries (its own seed, like the one above) ---
    wrng = np.random.default_rng(4242)
    train = wrng.standard_normal((300, 16)).astype(np.float32)
    test = wrng.standard_normal((20, 16)).astype(np.float32)
    nb = exact_cosine(train, test, 300)
    wrong = nb[:, :100].copy()
    for q in WRONG_QUERIES:
        # The 10 farthest points as the top-10, the true top-10 dropped, positions 11..100
        # reversed: a top-100 that is 90 % right as a set and 0 % right at 10.
        wrong[q, :10] = nb[q, -10:][::-1]
        wrong[q, 10:] = nb[q, 10:100][::-1]
    write_hdf5(os.path.join(ROOT, "wrong-truth.hdf5"), train, test, wrong)
    write_npy(os.path.join(ROOT, "wrong-truth-npy"), train, test, wrong)


# The queries of wrong-truth.* whose shipped neighbours are wrong (crates/data/tests names them).
WRONG_QUERIES = (3, 17)


if __name__ == "__main__":
    main()
