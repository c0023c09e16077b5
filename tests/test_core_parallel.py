"""The second core and the reused scratch arrays (issue 15): same results, bounded memory, thread safety."""

import copy
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from guicnn.core import Sequential, make_optimizer, parallel
from guicnn.core.functional import release, scratch, scratch_bytes
from guicnn.core.losses import SoftmaxCrossEntropy

DESIGN = {
    "input_shape": [3, 12, 12],
    "layers": [
        {"type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": 1}, {"type": "BatchNorm"}, {"type": "ReLU"},
        {"type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
        {"type": "MaxPool2D", "pool_size": 2},
        {"type": "Conv2D", "filters": 8, "kernel_size": 3, "stride": 2}, {"type": "ReLU"},
        {"type": "Flatten"}, {"type": "Dense", "units": 4},
    ],
}


@pytest.fixture
def split_everything(monkeypatch):
    """Hand even tiny passes to the pool, so that the threaded code paths run on test-sized data."""
    monkeypatch.setattr(parallel, "MIN_PARALLEL_VALUES", 1)
    monkeypatch.setattr(parallel, "MIN_SPLIT_COLUMNS", 8)  # matrix products split too (same blocks on 1 thread)
    monkeypatch.setattr(parallel, "MIN_SPLIT_MACS", 1)
    import guicnn.core.winograd as winograd

    monkeypatch.setattr(winograd, "MIN_PARALLEL_VALUES", 1)
    monkeypatch.setattr(winograd, "band_rows", lambda *a: 1)  # many bands: the two-thread band split runs
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 16)  # the 16-channel layers take Winograd here
    monkeypatch.setattr(winograd, "MIN_FILTERS", 16)
    monkeypatch.setattr(winograd, "MIN_OUTPUT", 1)
    import guicnn.core.blocked as blocked

    monkeypatch.setattr(blocked, "MIN_PARALLEL_VALUES", 1)
    monkeypatch.setattr(blocked, "BLOCK_BYTES", 1)  # one output row per block: the block split runs
    yield
    parallel.set_threads(None)


def _three_steps(threads: int):
    parallel.set_threads(threads)
    model = Sequential.from_config(DESIGN, seed=0)
    optimizer = make_optimizer(model.named_parameters(), {"type": "sgd", "lr": 0.05, "momentum": 0.9})
    loss = SoftmaxCrossEntropy()
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.normal(size=(5, 3, 12, 12)).astype(np.float32)
        loss.forward(model.forward(x, training=True), rng.integers(0, 4, size=5))
        dx = model.backward(loss.backward(), input_grad=True)
        optimizer.step(model.named_gradients())
    return model.forward(x, training=False), dx, model.state_dict()


@pytest.mark.parametrize("own_products", [False, True], ids=["blas-threads", "own-products"])
def test_two_threads_give_bit_identical_results(split_everything, own_products, monkeypatch):
    monkeypatch.setattr(parallel, "OWN_PRODUCT_THREADS", own_products)
    one = _three_steps(1)
    two = _three_steps(2)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    for name, value in one[2].items():
        np.testing.assert_array_equal(value, two[2][name], err_msg=name)


def test_three_threads_on_four_cores_give_bit_identical_results(split_everything, monkeypatch):
    """What a 4-core machine's window trains with (job_threads: every core but one)."""
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 4)
    assert parallel.job_threads() == 3
    monkeypatch.setattr(parallel, "OWN_PRODUCT_THREADS", True)
    monkeypatch.setattr(parallel, "_pool", None)  # a pool of 3 workers for this test
    try:
        one = _three_steps(1)
        with parallel.thread_limit(parallel.job_threads()):
            parallel.set_threads(4)
            assert parallel.threads() == 3
            three = _three_steps(4)
    finally:
        pool, parallel._pool = parallel._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
    np.testing.assert_array_equal(one[0], three[0])
    np.testing.assert_array_equal(one[1], three[1])
    for name, value in one[2].items():
        np.testing.assert_array_equal(value, three[2][name], err_msg=name)


@pytest.mark.parametrize("cores, expected", [(1, 1), (2, 1), (4, 3), (8, 7), (None, 1)])
def test_job_threads_leave_the_window_a_core(cores, expected, monkeypatch):
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: cores)
    assert parallel.job_threads() == expected


def test_a_model_pass_takes_blas_to_one_thread_and_keeps_the_count_it_found(split_everything, monkeypatch):
    monkeypatch.setattr(parallel, "OWN_PRODUCT_THREADS", True)
    monkeypatch.setattr(parallel, "_found", None)  # as in a new process
    model = Sequential.from_config(DESIGN, seed=0)
    seen = []
    first = model.layers[0]
    original = first.forward
    first.forward = lambda x, training=False: seen.append((parallel._blas_threads(), parallel.threads())) or \
        original(x, training)
    cores = min(2, parallel.os.cpu_count() or 1)
    with threadpool_limits(limits=2, user_api="blas"):
        model.forward(np.zeros((2, 3, 12, 12), np.float32))
        assert parallel._blas_threads() == 1  # left there: no per-pass set-and-restore to race with
        assert parallel.threads() == cores  # the count BLAS had is guicnn's default
        model.forward(np.zeros((2, 3, 12, 12), np.float32))
    assert seen == [(1, cores), (1, cores)]


def test_thread_count_defaults_to_blas_and_is_capped_per_thread(monkeypatch):
    monkeypatch.setattr(parallel, "_found", None)
    parallel.set_threads(None)
    cores = parallel.os.cpu_count() or 1
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            assert parallel.threads() == 1  # before any pass: NumPy's BLAS thread count
        monkeypatch.setattr(parallel, "_found", 2)  # after the first pass: the count it found
        assert parallel.threads() == min(2, cores)
        seen = {}

        def capped():
            with parallel.thread_limit(1):
                seen["capped"] = parallel.threads()
            seen["after"] = parallel.threads()

        other = threading.Thread(target=capped)
        other.start()
        other.join()
        assert seen == {"capped": 1, "after": min(2, cores)}
        assert parallel.threads() == min(2, cores)  # the cap was that thread's only
        parallel.set_threads(2)
        with parallel.thread_limit(1):
            assert parallel.threads() == 1
        assert parallel.threads() == min(2, cores)
        with pytest.raises(ValueError, match="at least 1"):
            parallel.set_threads(0)
    finally:
        parallel.set_threads(None)


def test_passes_in_two_threads_keep_blas_on_one_thread(monkeypatch):
    """Before, each pass set BLAS to one thread and restored it on leaving, so a pass in one
    thread could restore two BLAS threads under another thread's running pass."""
    monkeypatch.setattr(parallel, "OWN_PRODUCT_THREADS", True)
    model = Sequential.from_config(DESIGN, seed=0)
    twin = copy.deepcopy(model)
    x = np.zeros((2, 3, 12, 12), np.float32)
    inside = []
    for net in (model, twin):
        original = net.layers[3].forward
        net.layers[3].forward = lambda x, training=False, original=original: inside.append(
            parallel._blas_threads()) or original(x, training)

    def passes(net):
        for _ in range(30):
            net.forward(x)

    workers = [threading.Thread(target=passes, args=(net,)) for net in (model, twin)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(inside) == 60 and set(inside) == {1}
    assert parallel._blas_threads() == 1


def test_run_blocks_covers_every_index_once_and_raises_errors(split_everything):
    parallel.set_threads(2)
    seen = np.zeros(101, dtype=int)

    def mark(start, stop):
        seen[start:stop] += 1

    parallel.run_blocks(mark, 101, 101)
    assert (seen == 1).all()

    def fail(start, stop):
        if start > 0:
            raise RuntimeError("second block failed")

    with pytest.raises(RuntimeError, match="second block"):
        parallel.run_blocks(fail, 10, 10)


def test_scratch_arrays_are_per_layer_per_thread_and_bounded():
    class Owner:
        pass

    a, b = Owner(), Owner()
    first = scratch(a, "cols", (100, 10), np.float32)
    assert scratch(a, "cols", (100, 10), np.float32) is first  # reused from call to call
    assert scratch(b, "cols", (100, 10), np.float32) is not first  # never shared between layers
    scratch(a, "cols", (50, 10), np.float32)  # shape changed: the old array is dropped
    assert scratch_bytes(a) == 50 * 10 * 4
    found = {}
    thread = threading.Thread(target=lambda: found.setdefault("array", scratch(a, "cols", (50, 10), np.float32)))
    thread.start()
    thread.join()
    assert found["array"] is not scratch(a, "cols", (50, 10), np.float32)  # another thread, its own array
    for _ in range(3):  # more threads than kept sets: memory stays bounded
        thread = threading.Thread(target=lambda: scratch(a, "cols", (50, 10), np.float32))
        thread.start()
        thread.join()
    assert scratch_bytes(a) <= parallel_sets_bound() * 50 * 10 * 4
    release(a)
    assert scratch_bytes(a) == 0


def parallel_sets_bound() -> int:
    from guicnn.core import functional

    return functional._MAX_THREAD_SETS


def test_outputs_are_never_scratch_arrays_and_clear_caches_frees_them():
    model = Sequential.from_config(DESIGN, seed=0)
    x = np.random.default_rng(0).normal(size=(2, 3, 12, 12)).astype(np.float32)
    first = model.forward(x, training=False).copy()
    kept = model.forward(x, training=False)
    model.forward(np.zeros_like(x), training=False)
    np.testing.assert_array_equal(kept, first)  # a later call did not overwrite an earlier output
    assert scratch_bytes(model.layers[0]) > 0
    model.clear_caches()
    assert all(scratch_bytes(layer) == 0 for layer in model.layers)


def test_two_models_in_two_threads_at_once_match_serial_runs():
    """The GUI trains in a worker while the window runs inference on a copy: no shared buffers."""
    model = Sequential.from_config(DESIGN, seed=0)
    twin = copy.deepcopy(model)
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(4, 3, 12, 12)).astype(np.float32) for _ in range(6)]
    expected = [model.forward(x, training=False) for x in xs]
    results = {}

    def run(name, net):
        results[name] = [net.forward(x, training=False) for x in xs for _ in range(3)][::3]

    threads = [threading.Thread(target=run, args=("a", model)), threading.Thread(target=run, args=("b", twin))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name in "ab":
        for got, want in zip(results[name], expected):
            np.testing.assert_array_equal(got, want)
