import numpy as np
import pytest

import snnsad
from snnsad import data

from .helpers import run_without_typechecker, write_shd


def test_randman_is_deterministic_with_documented_shapes_and_balance():
    a = data.randman(4, 6, 30, samples_per_class=25, alpha=1.0, n_spikes=2, seed=3)
    b = data.randman(4, 6, 30, samples_per_class=25, alpha=1.0, n_spikes=2, seed=3)
    c = data.randman(4, 6, 30, samples_per_class=25, alpha=1.0, n_spikes=2, seed=4)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)
    assert a.x.shape == (100, 30, 6) and a.x.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(a.y), [25] * 4)
    counts = a.x.sum(axis=1)  # two spike indices per unit; coinciding times merge into one
    assert counts.min() >= 1 and counts.max() <= 2
    assert np.all(a.x.argmax(axis=1) < 30 * 0.5 + 1)  # spike times within step_frac of the window


def test_randman_classes_are_separable_when_smooth():
    """alpha = 2 manifolds: 1-nearest-neighbour on spike times is far above chance (1/5)."""
    d = data.randman(5, 20, 50, samples_per_class=60, alpha=2.0, seed=0)
    t = d.x.argmax(axis=1).astype(float)
    tr, te = slice(0, 200), slice(200, 300)
    dist = ((t[te][:, None] - t[tr][None]) ** 2).sum(-1)
    assert (d.y[tr][dist.argmin(1)] == d.y[te]).mean() > 0.8


def test_randman_preset_matches_the_paper():
    assert data.RANDMAN_PRESET == dict(
        n_classes=15,
        n_units=20,
        n_steps=100,
        samples_per_class=1000,
        manifold_dim=1,
        alpha=0.5,
        n_spikes=1,
        step_frac=0.5,
    )
    small = data.randman_preset(samples_per_class=4)
    assert small.x.shape == (60, 100, 20)


def test_randman_bad_arguments():
    with pytest.raises(ValueError, match="n_classes"):
        data.randman(0)
    with pytest.raises(ValueError, match="step_frac"):
        data.randman(step_frac=1.5)


def _independent_yinyang_label(x, y):
    """Kriener et al.'s rule written out point by point, independently of snnsad."""
    r_big, r_small = 0.5, 0.1
    d_right = ((x - 1.5 * r_big) ** 2 + (y - r_big) ** 2) ** 0.5
    d_left = ((x - 0.5 * r_big) ** 2 + (y - r_big) ** 2) ** 0.5
    if d_right <= r_small or d_left <= r_small:
        return 2
    criterion1 = d_right <= r_small
    criterion2 = r_small < d_left <= 0.5 * r_big
    criterion3 = y > r_big and d_right > 0.5 * r_big
    return int(criterion1 or criterion2 or criterion3)


def test_yinyang_labels_follow_the_geometric_rule():
    feats, labels = data.yinyang(2000, seed=1)
    assert feats.shape == (2000, 4) and feats.dtype == np.float32
    np.testing.assert_allclose(feats[:, 2:], 1 - feats[:, :2], atol=1e-6)
    ref = np.array([_independent_yinyang_label(float(x), float(y)) for x, y in feats[:, :2]])
    np.testing.assert_array_equal(labels, ref)
    assert np.all(np.hypot(feats[:, 0] - 0.5, feats[:, 1] - 0.5) <= 0.5)
    # Classes drawn uniformly: each within 4 standard errors of 1/3 (binomial, n = 2000).
    frac = np.bincount(labels, minlength=3) / 2000
    assert np.all(np.abs(frac - 1 / 3) < 4 * np.sqrt(1 / 3 * 2 / 3 / 2000))
    again = data.yinyang(2000, seed=1)
    np.testing.assert_array_equal(again[0], feats)


def test_latency_encoding():
    out = data.latency_encode(np.array([[0.0, 1.0, 0.5]]), 11)
    assert out.shape == (1, 11, 4)
    assert [int(np.argmax(out[0, :, i])) for i in range(4)] == [0, 10, 5, 0]
    assert out.sum() == 4
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        data.latency_encode(np.array([[1.5]]), 10)


def test_shd_reader_round_trips_a_synthetic_file(tmp_path):
    path = str(tmp_path / "shd.h5")
    times = [[0.0005, 0.0031, 0.0032, 0.05], [], [0.0101, 0.0199, 0.0199]]  # variable length, one empty sample
    units = [[0, 699, 699, 3], [], [5, 6, 6]]
    write_shd(path, times, units, [2, 0, 1])
    ds = data.SHD(path, n_steps=10, dt=2e-3, clip=False)
    assert len(ds) == 3 and ds.n_classes == 3 and ds.class_names == ["zero", "one", "two"]
    x, y = ds.batch(np.arange(3))
    assert x.shape == (3, 10, 700) and x.dtype == np.float32
    np.testing.assert_array_equal(y, [2, 0, 1])
    expected0 = np.zeros((10, 700), np.float32)
    expected0[0, 0] = 1
    expected0[1, 699] = 2  # two events in the same bin, counted (clip=False)
    # the event at 50 ms lies beyond 10 x 2 ms: truncated
    np.testing.assert_array_equal(x[0], expected0)
    assert x[1].sum() == 0  # empty sample -> all zeros (padded)
    assert x[2, 5, 5] == 1 and x[2, 9, 6] == 2
    clipped = data.SHD(path, n_steps=10, dt=2e-3, clip=True).raster(2)
    assert clipped.max() == 1
    train, val = ds.split(1 / 3, seed=0)
    assert sorted(np.concatenate([train, val]).tolist()) == [0, 1, 2] and len(val) == 1


def test_shd_reader_errors_name_the_file_and_field(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        data.SHD(str(tmp_path / "missing.h5"))
    bad = str(tmp_path / "bad.h5")
    write_shd(bad, [[0.0]], [[1]], [0], layout="no_units")
    with pytest.raises(ValueError, match=r"bad\.h5.*spikes/units"):
        data.SHD(bad)
    good = str(tmp_path / "good.h5")
    write_shd(good, [[0.0, 0.1]] * 50, [[1, 2]] * 50, [0] * 50)
    truncated = str(tmp_path / "truncated.h5")
    with open(good, "rb") as f:
        blob = f.read()
    with open(truncated, "wb") as f:
        f.write(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="truncated"):
        data.SHD(truncated).batch(np.arange(50))


def test_image_to_raster_uses_the_shipped_image():
    r = data.image_to_raster(n_neurons=200, n_steps=189)
    assert r.shape == (189, 200) and r.dtype == np.float32
    assert 0.05 < r.mean() < 0.5  # a drawing, neither blank nor black
    assert set(np.unique(r)) == {0.0, 1.0}


def test_poisson_raster_rate():
    """Empirical rate within 4 standard errors of rate * dt (binomial, 200 x 2000 draws)."""
    r = data.poisson_raster(2000, 200, 50.0, 1e-3, seed=0)
    p = 0.05
    assert abs(r.mean() - p) < 4 * np.sqrt(p * (1 - p) / r.size)
    np.testing.assert_array_equal(r, data.poisson_raster(2000, 200, 50.0, 1e-3, seed=0))
    with pytest.raises(ValueError, match="rate"):
        data.poisson_raster(10, 10, 2000.0, 1e-3)


def test_batches_are_a_pure_function_of_seed_and_epoch():
    a = list(data.batches(10, 3, seed=1, epoch=2))
    b = list(data.batches(10, 3, seed=1, epoch=2))
    c = list(data.batches(10, 3, seed=1, epoch=3))
    assert len(a) == 3 and all(len(i) == 3 for i in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    assert snnsad.data.SpikeDataset(np.zeros((4, 2, 1)), np.arange(4)).batch(np.array([1, 3]))[1].tolist() == [1, 3]


@pytest.mark.parametrize(
    "labels, dtype, match",
    [([0, -1], np.int32, "smallest -1"), ([0.0, 1.0], np.float32, "float32"), ([[0], [1]], np.int32, r"\(2, 1\)")],
    ids=["negative", "float", "2-D"],
)
def test_shd_reader_refuses_labels_that_are_not_class_indices(tmp_path, labels, dtype, match):
    path = str(tmp_path / "labels.h5")
    write_shd(path, [[0.001], [0.002]], [[1], [2]], labels, labels_dtype=dtype)
    with pytest.raises(ValueError, match=match):
        data.SHD(path, n_steps=10)


def test_shd_reader_refuses_times_it_would_drop_silently(tmp_path):
    """Times in ms (all beyond the window), NaN or negative times, and an empty file: clear errors;
    `validate` measures the dropped fraction over the whole file."""
    ms = str(tmp_path / "ms.h5")
    write_shd(ms, [[1.0, 5.0, 30.0]] * 3, [[1, 2, 3]] * 3, [0, 1, 2])  # 1 ms written as 1.0
    with pytest.raises(ValueError, match=r"100\.0% of the spike events.*seconds"):
        data.SHD(ms, n_steps=350, dt=2e-3)
    for name, times in (("nan", [[0.001, float("nan")]]), ("negative", [[-0.001, 0.002]])):
        path = str(tmp_path / f"{name}.h5")
        write_shd(path, times, [[1, 2]], [0])
        with pytest.raises(ValueError, match="NaN, infinite or negative"):
            data.SHD(path, n_steps=10)
    empty = str(tmp_path / "empty.h5")
    write_shd(empty, [], [], [])
    with pytest.raises(ValueError, match="no samples"):
        data.SHD(empty)
    half = str(tmp_path / "half.h5")
    write_shd(half, [[0.001, 0.5]] * 4, [[1, 2]] * 4, [0, 1, 0, 1])  # one event of two after 20 ms
    ds = data.SHD(half, n_steps=10, dt=2e-3)
    assert ds.validate(max_dropped=0.5) == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"50\.0% .* after the window"):
        ds.validate(max_dropped=0.4)


def test_a_test_file_with_a_class_the_training_file_lacks_is_refused(tmp_path):
    train, test = str(tmp_path / "train.h5"), str(tmp_path / "test.h5")
    write_shd(train, [[0.001]] * 2, [[1]] * 2, [0, 1])
    write_shd(test, [[0.001]] * 2, [[1]] * 2, [0, 2])
    with pytest.raises(ValueError, match="has class 2"):
        data.check_classes(data.SHD(train, n_steps=10), data.SHD(test, n_steps=10))


def test_randman_standardises_each_class_over_the_whole_window():
    """Per-class standardisation (the reference generator's): in every class each unit's spike times
    span the window [0, step_frac T), first step 0 and last step step_frac T - 1; global scaling
    leaves some classes short of one end."""
    per_class = data.randman(4, 6, 40, samples_per_class=200, alpha=0.5, step_frac=0.5, seed=2)
    globally = data.randman(4, 6, 40, samples_per_class=200, alpha=0.5, step_frac=0.5, seed=2, standardise="global")
    for d, exact in ((per_class, True), (globally, False)):
        times = d.x.argmax(1)  # (N, units): one spike per unit
        lo = np.array([times[d.y == c].min(0) for c in range(4)])
        hi = np.array([times[d.y == c].max(0) for c in range(4)])
        assert ((lo == 0).all() and (hi == 19).all()) == exact
    run_without_typechecker(
        """
        import pytest, snnsad
        with pytest.raises(ValueError, match="`standardise` must be 'class' or 'global'"):
            snnsad.data.randman(2, 3, 10, samples_per_class=4, standardise="unit")
        """
    )


def test_synthetic_shd_has_the_layout_and_preloading_changes_nothing(tmp_path):
    """write_synthetic_shd: SHD's layout (read by the SHD reader), 20 classes, times in seconds; the preloaded reader returns the same rasters as the lazy one; the
    classes differ (nearest class mean of channel counts beats chance 0.05 by far on held-out samples)."""
    train_path, test_path = data.write_synthetic_shd(str(tmp_path), n_train=200, n_test=60, seed=0)
    lazy, eager = data.SHD(train_path, n_steps=100, dt=7e-3), data.SHD(train_path, n_steps=100, dt=7e-3, preload=True)
    idx = np.array([5, 0, 199, 5])
    for a, b in zip(lazy.batch(idx), eager.batch(idx)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(lazy.raster(3), eager.raster(3))
    # samples last up to 0.9 s, so the paper's 0.7 s window drops about 2/9 of the events, as on SHD
    assert lazy.n_classes == 20 and 0.1 < lazy.dropped_fraction() < 0.3 and lazy.class_names[0] == "class 0"
    counting = data.SHD(train_path, n_steps=100, dt=7e-3, clip=False, preload=True)
    np.testing.assert_array_equal(
        counting.batch(idx)[0], data.SHD(train_path, n_steps=100, dt=7e-3, clip=False).batch(idx)[0]
    )
    test = data.SHD(test_path, n_steps=100, dt=7e-3, preload=True)
    xs, ys = eager.batch(np.arange(200))
    xt, yt = test.batch(np.arange(60))
    means = np.stack([xs[ys == c].sum(1).mean(0) for c in range(20)])
    guess = np.argmin(((xt.sum(1)[:, None] - means[None]) ** 2).sum(-1), 1)
    assert (guess == yt).mean() > 0.5


def test_from_tonic_agrees_with_the_shd_reader(tmp_path):
    """The same events, once as tonic-style structured arrays (microseconds) binned by tonic's ToFrame,
    once written to an SHD-layout file (seconds) and read by the SHD reader: identical rasters. Times
    sit inside their 2 ms bins so float32 seconds cannot move an event across a boundary; events after
    the window are dropped by both; an empty sample is all zeros."""
    rng = np.random.default_rng(0)
    dtype = np.dtype([("t", "<i8"), ("x", "<i8"), ("p", "<i8")])
    samples, times_s, units = [], [], []
    for n in (50, 0, 80):
        t_us = np.sort(rng.integers(0, 60, n) * 2000 + rng.integers(200, 1800, n))  # up to 120 ms
        ev = np.zeros(n, dtype)
        ev["t"], ev["x"] = t_us, rng.integers(0, 700, n)
        samples.append((ev, n % 7))
        times_s.append(t_us / 1e6)
        units.append(ev["x"].copy())
    write_shd(str(tmp_path / "events.h5"), times_s, units, [lab for _, lab in samples])
    reader = data.SHD(str(tmp_path / "events.h5"), n_steps=50, dt=2e-3)  # a 100 ms window: some events dropped
    xs, ys = reader.batch(np.arange(3))
    converted = data.from_tonic(samples, n_steps=50, dt=2e-3, sensor_size=(700, 1, 1))
    np.testing.assert_array_equal(converted.x, xs)
    np.testing.assert_array_equal(converted.y, ys)
    assert converted.x[1].sum() == 0 and 0 < converted.x[2].sum() < 80
    with pytest.raises(ValueError, match="sensor_size"):
        data.from_tonic(samples, n_steps=50, dt=2e-3)
