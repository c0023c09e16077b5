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


def test_a_model_pass_runs_blas_single_threaded_and_restores_it(split_everything, monkeypatch):
    monkeypatch.setattr(parallel, "OWN_PRODUCT_THREADS", True)
    parallel.set_threads(2)
    model = Sequential.from_config(DESIGN, seed=0)
    seen = []
    first = model.layers[0]
    original = first.forward
    first.forward = lambda x, training=False: seen.append((parallel._blas_threads(), parallel.threads())) or \
        original(x, training)
    with threadpool_limits(limits=2, user_api="blas"):
        model.forward(np.zeros((2, 3, 12, 12), np.float32))
        assert parallel._blas_threads() == 2
    assert seen == [(1, min(2, parallel.os.cpu_count() or 1))]


def test_thread_count_follows_blas_limit_unless_set():
    parallel.set_threads(None)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            assert parallel.threads() == 1  # the GUI worker's choice keeps the pool out too
        parallel.set_threads(2)
        with threadpool_limits(limits=1, user_api="blas"):
            assert parallel.threads() == min(2, parallel.os.cpu_count() or 1)
        with pytest.raises(ValueError, match="at least 1"):
            parallel.set_threads(0)
    finally:
        parallel.set_threads(None)


def test_blas_single_threaded_restores_the_limit_after_nested_and_concurrent_use():
    with threadpool_limits(limits=2, user_api="blas"):
        before = parallel._blas_threads()
        with parallel.blas_single_threaded():
            with parallel.blas_single_threaded():
                assert parallel._blas_threads() == 1
            assert parallel._blas_threads() == 1  # the inner exit does not restore yet

            def enter_and_leave():
                with parallel.blas_single_threaded():
                    pass

            other = threading.Thread(target=enter_and_leave)  # another thread in and out meanwhile
            other.start()
            other.join()
            assert parallel._blas_threads() == 1
        assert parallel._blas_threads() == before


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
