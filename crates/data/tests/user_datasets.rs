//! Users' own datasets (`Dataset::open`) on files written by the reference writers (h5py, numpy,
//! pyarrow: scripts/make-dataset-fixtures.py), against the suite's own .fbin/.ibin of the same data.

use std::fs;
use std::path::{Path, PathBuf};

use qdrant_perf_data::{
    Bound, Dataset, DatasetCache, FieldKind, Format, LoadedFrom, Metric, MetricWanted,
    TruthDisagreement, TruthOrigin, TruthUsed, UserSource, Vectors, exact_top_k_naive, mean_recall,
    write_ids,
};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/datasets")
        .join(rel)
}

fn cosine() -> MetricWanted {
    MetricWanted::new(Metric::Cosine, "--metric")
}

fn open(rel: &str, cache: &DatasetCache) -> Dataset {
    Dataset::open(&fixture(rel), Some(&cosine()), 10, cache)
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn user(d: &Dataset) -> &UserSource {
    match &d.loaded_from {
        LoadedFrom::User(u) => u,
        other => panic!("not a user dataset: {other:?}"),
    }
}

fn err(rel: &str, wanted: Option<&MetricWanted>) -> String {
    let cache = tempfile::tempdir().unwrap();
    Dataset::open(&fixture(rel), wanted, 10, &DatasetCache::new(cache.path()))
        .map(|d| panic!("{rel} was accepted: {}", d.describe()))
        .unwrap_err()
        .to_string()
}

#[test]
fn every_format_gives_the_same_vectors_truth_and_recall() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DatasetCache::new(dir.path());
    let reference = open("same/bin", &cache);
    assert_eq!(user(&reference).format, Format::Bin);
    assert!(reference.points.is_mapped(), "a .fbin train set is mapped");
    assert_eq!((reference.points.len(), reference.points.dim()), (200, 16));
    assert_eq!(reference.queries.len(), 20);
    // An answer that is exact for even queries and misses half of the top 10 for odd ones.
    // The suite's exact cosine truth agrees with numpy's (the shipped neighbours) here.
    let exact =
        exact_top_k_naive(&reference.points, &reference.queries, 10, Metric::Cosine).unwrap();
    assert_eq!(exact.all_ids(), reference.truth.all_ids());
    let answers: Vec<Vec<u64>> = (0..20)
        .map(|q| {
            let row = exact.ids(q);
            let keep = if q % 2 == 0 { 10 } else { 5 };
            row[..keep]
                .iter()
                .map(|&i| u64::from(i))
                .chain((1000..).take(10 - keep))
                .collect()
        })
        .collect();
    let recall =
        |d: &Dataset| mean_recall(answers.iter().map(Vec::as_slice), |q| d.truth.ids(q), 10);
    assert!(
        (recall(&reference) - 0.75).abs() < 1e-9,
        "{}",
        recall(&reference)
    );
    for (rel, format) in [
        ("same/ann.hdf5", Format::Hdf5),
        // Chunked, gzip + shuffle, int64 neighbours (h5py); float64 vectors, int32 neighbours,
        // a fixed-length `distance` and the newest HDF5 format.
        ("same/ann-gzip.hdf5", Format::Hdf5),
        ("same/ann-f64.hdf5", Format::Hdf5),
        ("same/npy", Format::Npy),
        ("same/parquet", Format::Parquet),
        ("same/fvecs", Format::Bin),
        ("same/notruth", Format::Npy),
    ] {
        let d = open(rel, &cache);
        assert_eq!(user(&d).format, format, "{rel}");
        assert_eq!(d.points, reference.points, "{rel}: train vectors");
        assert_eq!(d.queries, reference.queries, "{rel}: test vectors");
        assert_eq!(d.truth.all_ids(), reference.truth.all_ids(), "{rel}: truth");
        assert_eq!(recall(&d), recall(&reference), "{rel}: recall");
        assert_eq!(d.spec.dim, 16);
        assert_eq!(d.spec.metric, Metric::Cosine);
        // numpy's exact cosine neighbours agree with the suite's on every query: the file's
        // truth is used.
        if let TruthOrigin::Shipped {
            ks,
            queries,
            disagreeing,
            examples,
            used,
            ..
        } = &user(&d).truth
        {
            assert_eq!((ks.as_slice(), *queries), (&[10][..], 20), "{rel}");
            assert_eq!(*disagreeing, 0, "{rel}");
            assert!(examples.is_empty(), "{rel}");
            assert_eq!(*used, TruthUsed::Shipped, "{rel}");
        }
    }
    // The description says where the truth came from; the numbers are stored beside the data.
    let h5 = open("same/ann.hdf5", &cache);
    let text = h5.describe();
    assert!(
        text.contains(&format!(
            "shipped truth (neighbors in {}): all 20 queries agree with the exact top-10 within \
             ties; using the file's truth",
            fixture("same/ann.hdf5").display()
        )) && text.contains("ann-benchmarks HDF5"),
        "{text}"
    );
    let stored: UserSource =
        serde_json::from_slice(&fs::read(h5.dir.join("source.json")).unwrap()).unwrap();
    assert_eq!(&stored.truth, &user(&h5).truth);
    assert_eq!(
        stored.metric_from,
        "the file's distance attribute \"angular\""
    );
}

/// The shipped truth of a dataset as [`TruthOrigin::Shipped`] reports it: (queries
/// compared, disagreeing, the example queries, the truth used).
fn shipped(d: &Dataset) -> (usize, usize, Vec<usize>, TruthUsed) {
    let TruthOrigin::Shipped {
        queries,
        disagreeing,
        examples,
        used,
        ..
    } = &user(d).truth
    else {
        panic!("shipped truth expected: {}", d.describe());
    };
    (
        *queries,
        *disagreeing,
        examples.iter().map(|e| e.query).collect(),
        *used,
    )
}

#[test]
fn a_wrong_shipped_truth_shows_as_its_disagreeing_queries() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir(&data).unwrap();
    for f in ["base.fbin", "query.fbin"] {
        fs::copy(fixture("same/bin").join(f), data.join(f)).unwrap();
    }
    let good = open("same/bin", &DatasetCache::new(dir.path().join("c")));
    // Replace the last 5 of the 10 neighbours of every query by far points: every query is
    // wrong, 5 of its 10 ids from position 5 on.
    let far: Vec<Vec<u32>> = (0..20)
        .map(|q| {
            let row = good.truth.ids(q);
            let mut bad = row[..5].to_vec();
            bad.extend((0..200u32).rev().filter(|i| !row.contains(i)).take(5));
            bad
        })
        .collect();
    write_ids(&data.join("groundtruth.ibin"), 10, &far).unwrap();
    let d = Dataset::open(
        &data,
        Some(&cosine()),
        10,
        &DatasetCache::new(dir.path().join("c")),
    )
    .unwrap();
    assert_eq!(
        shipped(&d),
        (20, 20, vec![0, 1, 2, 3, 4], TruthUsed::Exact),
        "{}",
        d.describe()
    );
    let TruthOrigin::Shipped { examples, .. } = &user(&d).truth else {
        unreachable!()
    };
    assert_eq!(
        examples[0],
        TruthDisagreement {
            query: 0,
            k: 10,
            wrong: 5,
            first_wrong: far[0][5],
            position: 5
        }
    );
    // The exact truth is used, and the run says so.
    assert_eq!(d.truth.all_ids(), good.truth.all_ids());
    assert!(
        d.describe().contains(&format!(
            "shipped truth ({}): 20 of 20 queries (100.0%) disagree with the exact top-10 beyond \
             ties (e.g. query 0: 5 of its top-10 ids wrong, first id {} at position 5; query 1:",
            data.join("groundtruth.ibin").display(),
            far[0][5]
        )) && d
            .describe()
            .contains("; using the exact truth (--keep-shipped-truth or QDRANT_PERF_KEEP_SHIPPED_TRUTH=1 to use the file's)"),
        "{}",
        d.describe()
    );
}

#[test]
fn a_truth_wrong_for_10_percent_of_queries_is_reported_and_replaced_by_the_exact_one() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DatasetCache::new(dir.path());
    // Written by h5py and by numpy (scripts/make-dataset-fixtures.py): 300 train, 20 test,
    // top-100 cosine neighbours, exact but for queries 3 and 17, whose top-10 are the 10
    // farthest points and whose other 90 are the true 11th..100th, reversed.
    for rel in ["wrong-truth.hdf5", "wrong-truth-npy"] {
        let data = qdrant_perf_data::UserData::read(&fixture(rel), &cache).unwrap();
        // As `sweep` asks: a truth 100 deep, recall at 10.
        let d = data.dataset(Some(&cosine()), 100).unwrap();
        assert_eq!(
            shipped(&d),
            (20, 2, vec![3, 17], TruthUsed::Exact),
            "{rel}: {}",
            d.describe()
        );
        let TruthOrigin::Shipped { ks, examples, .. } = &user(&d).truth else {
            unreachable!()
        };
        assert_eq!(ks, &[10, 100], "{rel}");
        assert!(
            examples
                .iter()
                .all(|e| e.k == 10 && e.wrong == 10 && e.position == 0),
            "{rel}: {examples:?}"
        );
        let text = d.describe();
        assert!(
            text.contains("2 of 20 queries (10.0%) disagree with the exact top-10 and top-100 beyond ties (e.g. query 3: 10 of its top-10 ids wrong")
                && text.contains("; query 17: 10 of its top-10 ids wrong")
                && text.contains("; using the exact truth (--keep-shipped-truth"),
            "{rel}: {text}"
        );
        // The dataset's truth is the exact truth, 100 deep, with its scores.
        let exact = exact_top_k_naive(&d.points, &d.queries, 100, Metric::Cosine).unwrap();
        assert_eq!(d.truth.k(), 100);
        for q in 0..20 {
            assert_eq!(d.truth.ids(q)[..10], exact.ids(q)[..10], "{rel}: query {q}");
            assert!(d.truth.scores(q).iter().all(|s| s.is_finite()));
        }
        // So the recall of an exact search is 1 against it; against the file's truth (kept
        // with the flag) it would be 0.9, as the issue saw.
        let answers: Vec<Vec<u64>> = (0..20)
            .map(|q| exact.ids(q)[..10].iter().map(|&i| u64::from(i)).collect())
            .collect();
        let recall =
            |d: &Dataset| mean_recall(answers.iter().map(Vec::as_slice), |q| d.truth.ids(q), 10);
        assert_eq!(recall(&d), 1.0, "{rel}");
        let kept = data
            .clone()
            .keep_shipped_truth(true)
            .dataset(Some(&cosine()), 100)
            .unwrap();
        assert_eq!(
            shipped(&kept),
            (20, 2, vec![3, 17], TruthUsed::ShippedUnverified),
            "{rel}"
        );
        assert!(
            (recall(&kept) - 0.9).abs() < 1e-9,
            "{rel}: {}",
            recall(&kept)
        );
        assert!(
            kept.truth.scores(3).iter().all(|s| s.is_nan()),
            "the file's truth"
        );
        let text = kept.describe();
        assert!(
            text.contains("2 of 20 queries (10.0%) disagree")
                && text.contains("using the file's truth as asked (--keep-shipped-truth / QDRANT_PERF_KEEP_SHIPPED_TRUTH): recall is against unverified truth"),
            "{rel}: {text}"
        );
        // At the recall k alone the same two queries disagree; the exact truth was computed
        // once and is read back from the cache.
        let at10 = data.dataset(Some(&cosine()), 10).unwrap();
        assert_eq!(
            shipped(&at10),
            (20, 2, vec![3, 17], TruthUsed::Exact),
            "{rel}"
        );
        assert_eq!(at10.truth, d.truth, "{rel}");
        assert!(d.dir.join("truth.ibin").exists(), "{rel}");
    }
}

#[test]
fn an_old_source_json_is_replaced_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DatasetCache::new(dir.path());
    let d = open("same/npy", &cache);
    // The shape before the truth was compared query by query.
    let path = d.dir.join("source.json");
    let mut old: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    old["truth"] = serde_json::json!({
        "kind": "shipped", "file": "x/neighbors.npy", "checked": 20, "mismatch_rate": 0.0
    });
    fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
    let again = open("same/npy", &cache);
    let stored: UserSource = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(stored.truth, user(&again).truth);
}

#[test]
fn absent_truth_is_computed_once_and_cached_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DatasetCache::new(dir.path());
    let first = open("same/notruth", &cache);
    assert_eq!(user(&first).truth, TruthOrigin::Computed { cached: false });
    assert!(first.dir.join("truth.ibin").exists());
    let second = open("same/notruth", &cache);
    assert_eq!(user(&second).truth, TruthOrigin::Computed { cached: true });
    assert_eq!(first.truth, second.truth);
    assert_eq!(first.dir, second.dir);
    // Another metric is another truth, in another directory.
    let dot = Dataset::open(
        &fixture("same/notruth"),
        Some(&MetricWanted::new(Metric::Dot, "--metric")),
        10,
        &cache,
    )
    .unwrap();
    assert_ne!(dot.dir, first.dir);
    assert_eq!(user(&dot).truth, TruthOrigin::Computed { cached: false });
    // Changed content: another directory.
    let copy = dir.path().join("copy");
    fs::create_dir(&copy).unwrap();
    fs::copy(fixture("same/notruth/test.npy"), copy.join("test.npy")).unwrap();
    let mut train = fs::read(fixture("same/notruth/train.npy")).unwrap();
    let n = train.len();
    train[n - 1] ^= 1;
    fs::write(copy.join("train.npy"), train).unwrap();
    let changed = Dataset::open(&copy, Some(&cosine()), 10, &cache).unwrap();
    assert_ne!(changed.dir, first.dir);
    assert_ne!(changed.spec.hash(), first.spec.hash());
}

#[test]
fn byte_vectors_are_converted_mapped_and_equal_numpys() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DatasetCache::new(dir.path());
    let u8bin = open("same/u8", &cache);
    assert!(
        u8bin.points.is_mapped(),
        "the converted .u8bin train set is mapped"
    );
    let npy = open("same/u8-npy", &cache);
    let bvecs = open("same/bvecs", &cache);
    assert_eq!(u8bin.points, npy.points);
    assert_eq!(u8bin.queries, npy.queries);
    assert_eq!(bvecs.points, npy.points);
    assert_eq!(u8bin.truth, npy.truth);
    assert!(npy.points.as_slice().iter().any(|&x| x > 200.0));
    // One converted .fbin per train file (.u8bin, uint8 .npy, .bvecs), each made once.
    assert!(npy.points.is_mapped() && bvecs.points.is_mapped());
    let converted = || {
        fs::read_dir(dir.path().join("datasets/converted"))
            .unwrap()
            .count()
    };
    assert_eq!(converted(), 3);
    open("same/u8", &cache);
    assert_eq!(converted(), 3);
}

#[test]
fn every_train_set_is_mapped_and_equals_the_in_memory_readers() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DatasetCache::new(dir.path());
    let reference = open("same/bin", &cache);
    // The in-memory readers of the suite's own formats, on the numpy-written files.
    assert_eq!(
        reference.points,
        qdrant_perf_data::read_vectors(&fixture("same/fvecs/base.fvecs")).unwrap()
    );
    // HDF5 by row hyperslabs, float32 .npy in place, Parquet row group by row group, .fvecs in
    // blocks: all mapped, all the same values.
    for rel in [
        "same/ann.hdf5",
        "same/npy",
        "same/parquet",
        "same/fvecs",
        "same/notruth",
    ] {
        let d = open(rel, &cache);
        assert!(d.points.is_mapped(), "{rel}: the train set is mapped");
        assert_eq!(d.points, reference.points, "{rel}");
        assert!(user(&d).mapped, "{rel}: source.json says mapped");
    }
    // A float32 .npy is mapped where it is: nothing converted for it.
    let converted = dir.path().join("datasets/converted");
    let before = fs::read_dir(&converted).unwrap().count();
    assert_eq!(before, 3, "hdf5, parquet and fvecs were converted");
    let bytes = fixture("same/u8/base.u8bin");
    let u8bin = open("same/u8", &cache);
    assert_eq!(
        u8bin.points,
        qdrant_perf_data::read_byte_vectors(&bytes).unwrap()
    );
    assert_eq!(
        open("same/bvecs", &cache).points,
        qdrant_perf_data::read_byte_vectors(&fixture("same/bvecs/base.bvecs")).unwrap()
    );
}

#[test]
fn parquet_scalar_columns_become_the_points_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let d = open("same/parquet", &DatasetCache::new(dir.path()));
    let p = d.source_payloads.as_ref().expect("payloads");
    assert_eq!(p.len(), 200);
    assert_eq!(p.row(4)["category"], "green");
    assert_eq!(p.row(4)["price"], 40);
    assert!(!p.row(0).contains_key("emb") && !p.row(0).contains_key("id"));
    assert_eq!(
        p.fields(),
        [
            ("category".to_string(), FieldKind::Keyword),
            ("price".to_string(), FieldKind::Integer)
        ]
    );
    // `price` is 10 x the row: a 5 % range is `price <= 90`, exactly rows 0..10.
    let sel = p.select("price", 0.05).unwrap();
    assert_eq!(sel.bound, Bound::IntegerAtMost(90));
    assert_eq!(sel.matching, (0..10).collect::<Vec<u32>>());
    // red and green are 67 rows each, blue 66: blue is the closest to a 30 % (60-row) selection.
    let sel = p.select("category", 0.3).unwrap();
    assert_eq!(sel.bound, Bound::KeywordAny(vec!["blue".into()]));
    assert_eq!(
        sel.matching,
        (0..200).filter(|i| i % 3 == 2).collect::<Vec<u32>>()
    );
    let e = p.select("colour", 0.1).unwrap_err().to_string();
    assert!(
        e.contains("colour") && e.contains("category (keyword)"),
        "{e}"
    );
}

#[test]
fn the_metric_comes_from_the_file_and_a_contradiction_names_both() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DatasetCache::new(dir.path());
    let d = Dataset::open(&fixture("same/ann.hdf5"), None, 10, &cache).unwrap();
    assert_eq!(d.spec.metric, Metric::Cosine);
    let e = err(
        "same/ann.hdf5",
        Some(&MetricWanted::new(Metric::Dot, "collection profile `x`")),
    );
    assert!(
        e.contains("ann.hdf5") && e.contains("\"angular\" (cosine)"),
        "{e}"
    );
    assert!(e.contains("collection profile `x` says dot"), "{e}");
    // No metric in the file and none given: ask for --metric.
    let e = err("same/npy", None);
    assert!(e.contains("pass --metric"), "{e}");
    let e = err("bad/unknown-distance.hdf5", None);
    assert!(
        e.contains("\"hamming\"") && e.contains("pass --metric"),
        "{e}"
    );
}

#[test]
fn a_dataset_of_another_dimension_than_the_profile_names_both() {
    let dir = tempfile::tempdir().unwrap();
    let d = open("same/npy", &DatasetCache::new(dir.path()));
    d.check_fits("tiny", 16).unwrap();
    let e = d.check_fits("deepcoder", 768).unwrap_err().to_string();
    assert!(
        e.contains("dimension 16") && e.contains("`deepcoder` has dimension 768"),
        "{e}"
    );
    assert!(e.contains("same/npy"), "{e}");
}

#[test]
fn bad_inputs_are_refused_naming_the_file_and_the_fix() {
    let c = Some(cosine());
    let c = c.as_ref();
    let cases: &[(&str, &[&str])] = &[
        (
            "bad/nan",
            &[
                "bad/nan/train.npy",
                "train row 3",
                "NaN at column 2",
                "finite",
            ],
        ),
        ("bad/inf-test", &["inf-test/test.npy", "test row 1", "inf"]),
        ("bad/dims", &["dims/test.npy", "dimension 5", "have 4"]),
        (
            "bad/empty-test",
            &["empty-test/test.npy", "test set is empty"],
        ),
        (
            "bad/empty-train",
            &["empty-train/train.npy", "train set is empty"],
        ),
        (
            "bad/past-train.hdf5",
            &[
                "past-train.hdf5",
                "neighbour id 10",
                "past the train set of 10",
            ],
        ),
        (
            "bad/mixed-parquet",
            &[
                "mixed-parquet/train.parquet",
                "row 5",
                "3 values, row 0's has 4",
            ],
        ),
        (
            "bad/strings-parquet",
            &[
                "strings-parquet/train.parquet",
                "`emb` is not a list of floats",
            ],
        ),
        (
            "bad/liststr-parquet",
            &[
                "liststr-parquet/train.parquet",
                "`emb` is not a list of floats",
            ],
        ),
        (
            "bad/unknown",
            &["bad/unknown", "unknown dataset format", "train.npy"],
        ),
        (
            "bad/unknown/vectors.csv",
            &["vectors.csv", "unknown dataset format"],
        ),
        ("bad/missing", &["bad/missing", "does not exist"]),
    ];
    for (rel, wants) in cases {
        let e = err(rel, c);
        for w in *wants {
            assert!(e.contains(w), "{rel}: {e:?} lacks {w:?}");
        }
    }
}

#[test]
fn truncated_files_are_refused_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DatasetCache::new(dir.path().join("c"));
    let cut = |src: &Path, dst: &Path| {
        let bytes = fs::read(src).unwrap();
        fs::write(dst, &bytes[..bytes.len() * 2 / 3]).unwrap();
    };
    // HDF5
    let h5 = dir.path().join("cut.hdf5");
    cut(&fixture("same/ann.hdf5"), &h5);
    let e = Dataset::open(&h5, Some(&cosine()), 10, &cache)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cut.hdf5") && e.contains("truncated"), "{e}");
    // .fbin, .u8bin, .npy, .parquet: the train file cut in a copy of the directory.
    for (rel, train) in [
        ("same/bin", "base.fbin"),
        ("same/u8", "base.u8bin"),
        ("same/npy", "train.npy"),
        ("same/parquet", "train.parquet"),
    ] {
        let copy = dir.path().join(rel.replace('/', "-"));
        fs::create_dir_all(&copy).unwrap();
        for e in fs::read_dir(fixture(rel)).unwrap() {
            let e = e.unwrap();
            fs::copy(e.path(), copy.join(e.file_name())).unwrap();
        }
        cut(&fixture(rel).join(train), &copy.join(train));
        let e = Dataset::open(&copy, Some(&cosine()), 10, &cache)
            .unwrap_err()
            .to_string();
        assert!(e.contains(train) && e.contains("truncated"), "{rel}: {e}");
    }
}

#[test]
fn a_mapped_fbin_reads_like_the_in_memory_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.fbin");
    let v = Vectors::new(3, (0..30).map(|i| i as f32 / 7.0).collect()).unwrap();
    qdrant_perf_data::write_vectors(&path, &v).unwrap();
    let mapped = Vectors::map_fbin(&path).unwrap();
    assert!(mapped.is_mapped() && !v.is_mapped());
    assert_eq!(mapped, v);
    assert_eq!(mapped.row(9), v.row(9));
    assert_eq!(mapped.clone().into_inner(), v.into_inner());
}

#[test]
fn a_head_of_the_train_set_gets_its_own_exact_truth() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DatasetCache::new(dir.path());
    let data = qdrant_perf_data::UserData::read(&fixture("same/bin"), &cache).unwrap();
    assert_eq!((data.len(), data.dim()), (200, 16));
    let head = data.head_dataset(Some(&cosine()), 10, 50).unwrap();
    assert_eq!(head.points.len(), 50);
    assert!(
        head.points.is_mapped(),
        "a head of a mapped train set stays mapped"
    );
    assert_eq!(
        head.points.as_slice(),
        &data.dataset(Some(&cosine()), 10).unwrap().points.as_slice()[..50 * 16]
    );
    let exact = exact_top_k_naive(&head.points, &head.queries, 10, Metric::Cosine).unwrap();
    assert_eq!(head.truth.all_ids(), exact.all_ids());
    assert!(head.truth.all_ids().iter().flatten().all(|&id| id < 50));
    assert_eq!(user(&head).truth, TruthOrigin::Computed { cached: false });
    let e = data
        .head_dataset(Some(&cosine()), 10, 201)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("has 200 train vectors") && e.contains("201"),
        "{e}"
    );
}
