"""Forward and backward parity with PyTorch on identical weights (skipped without torch)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from gradcheck import batch_last  # noqa: E402

from guicnn.core import Sequential, layer_class, make_optimizer, scheduled_lr  # noqa: E402
from guicnn.core.losses import MSE, SoftmaxCrossEntropy  # noqa: E402


def assert_close(actual, desired, err_msg="", tol=1e-5):
    """Within tol of the tensor's scale: float32 sums in another order differ by rounding only."""
    actual, desired = np.asarray(actual, np.float64), np.asarray(desired, np.float64)
    assert actual.shape == desired.shape, f"{err_msg}: shape {actual.shape} != {desired.shape}"
    scale = max(1.0, float(np.abs(desired).max(initial=0)))
    worst = float(np.abs(actual - desired).max(initial=0))
    assert worst <= tol * scale, f"{err_msg}: max difference {worst:.3g} exceeds {tol:g} x scale {scale:.3g}"


def _t(a, grad=False):
    t = torch.tensor(np.ascontiguousarray(a))
    return t.requires_grad_(grad)


def _compare_layer(layer, torch_fn, input_shape, *, training=True, batch=4, seed=0, torch_params=None, x=None):
    """Run both on the same float32 input and upstream gradient; compare output, dx and param grads."""
    rng = np.random.default_rng(seed)
    layer.build(input_shape, rng)
    for value in layer.params.values():
        value[...] = rng.normal(size=value.shape).astype(np.float32)
    if x is None:
        x = rng.normal(size=(batch,) + tuple(input_shape)).astype(np.float32)
    y = layer.forward(x, training)
    dy = rng.normal(size=y.shape).astype(np.float32)
    layer.needs_input_grad = True
    dx = layer.backward(dy)

    tx = _t(x, grad=True)
    tparams = {k: _t(v, grad=True) for k, v in layer.params.items()}
    ty = torch_fn(tx, tparams)
    ty.backward(_t(dy))
    assert_close(y, ty.detach().numpy(), err_msg="forward")
    assert_close(dx, tx.grad.numpy(), err_msg="input gradient")
    for name, tp in tparams.items():
        assert_close(layer.grads[name], tp.grad.numpy(), err_msg=f"gradient of {name}")
    return layer


CONV_CASES = [
    ({"filters": 4, "kernel_size": 3}, {}),
    ({"filters": 4, "kernel_size": 5, "padding": 2}, {"padding": 2}),
    ({"filters": 3, "kernel_size": 3, "stride": 2}, {"stride": 2}),
    ({"filters": 3, "kernel_size": 3, "padding": "same"}, {"padding": "same"}),
    ({"filters": 3, "kernel_size": 4, "padding": "same"}, {"padding": "same"}),
    ({"filters": 3, "kernel_size": 3, "dilation": 2, "padding": 2}, {"dilation": 2, "padding": 2}),
    ({"filters": 2, "kernel_size": [3, 5], "stride": [2, 1], "padding": [1, 2]},
     {"stride": (2, 1), "padding": (1, 2)}),
    ({"filters": 2, "kernel_size": 3, "use_bias": False, "padding": "valid"}, {"padding": "valid"}),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("settings,torch_kwargs", CONV_CASES)
def test_conv2d(settings, torch_kwargs):
    layer = layer_class("Conv2D")(**settings)
    _compare_layer(layer, lambda x, p: F.conv2d(x, p["weight"], p.get("bias"), **torch_kwargs), (3, 11, 10))


def test_dense():
    layer = layer_class("Dense")(units=7)
    _compare_layer(layer, lambda x, p: F.linear(x, p["weight"], p["bias"]), (13,))


POOL_CASES = [
    ("MaxPool2D", {"pool_size": 2}, lambda x: F.max_pool2d(x, 2)),
    ("MaxPool2D", {"pool_size": 3, "stride": 2}, lambda x: F.max_pool2d(x, 3, 2)),
    ("MaxPool2D", {"pool_size": 3, "stride": 2, "padding": 1}, lambda x: F.max_pool2d(x, 3, 2, 1)),
    ("MaxPool2D", {"pool_size": [2, 3], "stride": [1, 2]}, lambda x: F.max_pool2d(x, (2, 3), (1, 2))),
    ("MinPool2D", {"pool_size": 3, "stride": 2, "padding": 1}, lambda x: -F.max_pool2d(-x, 3, 2, 1)),
    ("AvgPool2D", {"pool_size": 2}, lambda x: F.avg_pool2d(x, 2)),
    ("AvgPool2D", {"pool_size": 3, "stride": 2, "padding": 1}, lambda x: F.avg_pool2d(x, 3, 2, 1)),
    ("SumPool2D", {"pool_size": 3, "stride": 1}, lambda x: 9 * F.avg_pool2d(x, 3, 1)),
    ("GlobalAvgPool2D", {}, lambda x: x.mean(dim=(2, 3))),
    ("GlobalMaxPool2D", {}, lambda x: F.adaptive_max_pool2d(x, 1).flatten(1)),
    ("SpatialPyramidPool2D", {"levels": [1, 2, 4]},
     lambda x: torch.cat([F.adaptive_max_pool2d(x, n).flatten(1) for n in (1, 2, 4)], dim=1)),
    ("SpatialPyramidPool2D", {"levels": [1, 3], "mode": "avg"},
     lambda x: torch.cat([F.adaptive_avg_pool2d(x, n).flatten(1) for n in (1, 3)], dim=1)),
]


@pytest.mark.parametrize("type_name,settings,torch_fn", POOL_CASES, ids=[f"{c[0]}-{c[1]}" for c in POOL_CASES])
def test_pools(type_name, settings, torch_fn):
    _compare_layer(layer_class(type_name)(**settings), lambda x, p: torch_fn(x), (3, 11, 9))


def test_max_pool_ties_send_gradient_to_first_element_like_torch():
    # After ReLU, windows full of zeros are common: the gradient must go to one element only.
    x = np.maximum(np.random.default_rng(1).normal(size=(2, 3, 8, 8)), 0).astype(np.float32)
    x[:, :, :4, :4] = 0
    layer = layer_class("MaxPool2D")(pool_size=2)
    _compare_layer(layer, lambda t, p: F.max_pool2d(t, 2), (3, 8, 8), x=x)


ACTIVATIONS = [
    ("ReLU", {}, lambda x, p: F.relu(x)),
    ("LeakyReLU", {"negative_slope": 0.2}, lambda x, p: F.leaky_relu(x, 0.2)),
    ("PReLU", {}, lambda x, p: F.prelu(x, p["weight"])),
    ("PReLU", {"channelwise": True}, lambda x, p: F.prelu(x, p["weight"])),
    ("ELU", {"alpha": 0.5}, lambda x, p: F.elu(x, 0.5)),
    ("Sigmoid", {}, lambda x, p: torch.sigmoid(x)),
    ("Tanh", {}, lambda x, p: torch.tanh(x)),
    ("Softmax", {}, lambda x, p: torch.softmax(x, dim=1)),
]


@pytest.mark.parametrize("type_name,settings,torch_fn", ACTIVATIONS, ids=[f"{a[0]}-{a[1]}" for a in ACTIVATIONS])
@pytest.mark.parametrize("shape", [(3, 5, 4), (6,)], ids=["image", "flat"])
def test_activations(type_name, settings, torch_fn, shape):
    _compare_layer(layer_class(type_name)(**settings), torch_fn, shape)


@pytest.mark.parametrize("shape", [(3, 5, 4), (6,)], ids=["2d", "1d"])
def test_batchnorm_training_then_eval(shape):
    layer = layer_class("BatchNorm")(momentum=0.2, eps=1e-3)
    bn_cls = torch.nn.BatchNorm2d if len(shape) == 3 else torch.nn.BatchNorm1d
    bn = bn_cls(shape[0], eps=1e-3, momentum=0.2)
    rng = np.random.default_rng(0)
    layer.build(shape, rng)
    for step in range(3):
        x = (rng.normal(size=(8,) + shape) * 3 + 1).astype(np.float32)
        with torch.no_grad():
            bn.weight.copy_(_t(layer.params["weight"]))
            bn.bias.copy_(_t(layer.params["bias"]))
        bn.train()
        tx = _t(x, grad=True)
        ty = bn(tx)
        y = layer.forward(x, training=True)
        dy = rng.normal(size=y.shape).astype(np.float32)
        ty.backward(_t(dy))
        layer.needs_input_grad = True
        dx = layer.backward(dy)
        assert_close(y, ty.detach().numpy())
        assert_close(dx, tx.grad.numpy())
        assert_close(layer.grads["weight"], bn.weight.grad.numpy())
        assert_close(layer.grads["bias"], bn.bias.grad.numpy())
        bn.zero_grad()
        layer.params["weight"] += 0.1 * step  # different affine parameters every step
    assert_close(layer.buffers["running_mean"], bn.running_mean.numpy())
    assert_close(layer.buffers["running_var"], bn.running_var.numpy())
    assert int(layer.buffers["num_batches_tracked"]) == int(bn.num_batches_tracked) == 3
    bn.eval()
    x = rng.normal(size=(5,) + shape).astype(np.float32)
    with torch.no_grad():
        bn.weight.copy_(_t(layer.params["weight"]))
        bn.bias.copy_(_t(layer.params["bias"]))
    _compare_layer_eval(layer, bn, x)


def _compare_layer_eval(layer, module, x):
    tx = _t(x, grad=True)
    ty = module(tx)
    y = layer.forward(x, training=False)
    dy = np.random.default_rng(5).normal(size=y.shape).astype(np.float32)
    ty.backward(_t(dy))
    layer.needs_input_grad = True
    dx = layer.backward(dy)
    assert_close(y, ty.detach().numpy())
    assert_close(dx, tx.grad.numpy())
    assert_close(layer.grads["weight"], module.weight.grad.numpy())


@pytest.mark.parametrize("scale", [1.0, 1e4], ids=["normal", "huge-logits"])
def test_cross_entropy(scale):
    rng = np.random.default_rng(0)
    logits = (rng.normal(size=(16, 10)) * scale).astype(np.float32)
    labels = rng.integers(0, 10, size=16)
    loss = SoftmaxCrossEntropy()
    value = loss.forward(logits, labels)
    grad = loss.backward()
    tl = _t(logits, grad=True)
    tv = F.cross_entropy(tl, torch.tensor(labels))
    tv.backward()
    assert value == pytest.approx(tv.item(), rel=1e-5)
    assert_close(grad, tl.grad.numpy())


def test_mse_with_one_hot_labels():
    rng = np.random.default_rng(0)
    out = rng.normal(size=(8, 5)).astype(np.float32)
    labels = rng.integers(0, 5, size=8)
    loss = MSE()
    value = loss.forward(out, labels)
    grad = loss.backward()
    to = _t(out, grad=True)
    tv = F.mse_loss(to, F.one_hot(torch.tensor(labels), 5).float())
    tv.backward()
    assert value == pytest.approx(tv.item(), rel=1e-5)
    assert_close(grad, to.grad.numpy())


SMALL_NET = {
    "input_shape": [2, 8, 8],
    "layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": 1, "use_bias": False},
        {"type": "BatchNorm"}, {"type": "ReLU"},
        {"type": "MaxPool2D", "pool_size": 2}, {"type": "Flatten"}, {"type": "Dense", "units": 6},
        {"type": "PReLU"}, {"type": "Dense", "units": 3},
    ],
}


def _torch_small_net():
    return torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1, bias=False), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64, 6), torch.nn.PReLU(), torch.nn.Linear(6, 3),
    )


OPTIMIZERS = [
    ({"type": "sgd", "lr": 0.05}, lambda p: torch.optim.SGD(p, lr=0.05)),
    ({"type": "sgd", "lr": 0.05, "momentum": 0.9}, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    ({"type": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ({"type": "adam", "lr": 0.01}, lambda p: torch.optim.Adam(p, lr=0.01)),
    ({"type": "adam", "lr": 0.01, "betas": [0.8, 0.99], "weight_decay": 1e-2},
     lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=1e-2)),
    ({"type": "rmsprop", "lr": 0.005}, lambda p: torch.optim.RMSprop(p, lr=0.005)),
    ({"type": "rmsprop", "lr": 0.005, "momentum": 0.5, "centered": True},
     lambda p: torch.optim.RMSprop(p, lr=0.005, momentum=0.5, centered=True)),
]


@pytest.mark.parametrize("config,torch_factory", OPTIMIZERS, ids=[str(c[0]) for c in OPTIMIZERS])
def test_twenty_optimizer_steps_match_torch(config, torch_factory):
    model = Sequential.from_config(SMALL_NET, seed=3)
    net = _torch_small_net()
    net.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()}, strict=True)
    optimizer = make_optimizer(model.named_parameters(), config)
    torch_optimizer = torch_factory(net.parameters())
    loss = SoftmaxCrossEntropy()
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.normal(size=(8, 2, 8, 8)).astype(np.float32)
        y = rng.integers(0, 3, size=8)
        loss.forward(model.forward(x, training=True), y)
        model.backward(loss.backward())
        optimizer.step(model.named_gradients())
        torch_optimizer.zero_grad()
        F.cross_entropy(net(_t(x)), torch.tensor(y)).backward()
        torch_optimizer.step()
    torch_state = net.state_dict()
    for name, value in model.state_dict().items():
        assert_close(value, torch_state[name].numpy(), err_msg=name)


def test_whole_model_forward_and_input_gradient():
    model = Sequential.from_config(SMALL_NET, seed=1)
    net = _torch_small_net()
    net.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()}, strict=True)
    x = np.random.default_rng(2).normal(size=(5, 2, 8, 8)).astype(np.float32)
    for training in (True, False):
        net.train(training)
        tx = _t(x, grad=True)
        ty = net(tx)
        ty.sum().backward()
        y = model.forward(x, training=training)
        dx = model.backward(np.ones_like(y), input_grad=True)
        assert_close(y, ty.detach().numpy())
        assert_close(dx, tx.grad.numpy())


@pytest.mark.parametrize("schedule", [{"type": "step", "step_size": 3, "gamma": 0.5},
                                      {"type": "cosine", "t_max": 10, "eta_min": 0.001}])
def test_schedules_match_torch(schedule):
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    if schedule["type"] == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    else:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
    for epoch in range(10):
        assert scheduled_lr(0.1, epoch, schedule, 10) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9)
        opt.step()
        sched.step()


# ---- the fast paths (issue 15): Winograd against im2col and PyTorch, batch-last inputs ----------

WINOGRAD_CASES = [  # (channels, filters, height, width, padding, batch): even/odd sizes, short last band
    (16, 16, 8, 8, 1, 3), (16, 17, 9, 7, 1, 2), (20, 16, 11, 10, 0, 2), (16, 16, 7, 9, 2, 3),
    (16, 16, 6, 6, "same", 2), (32, 64, 28, 28, 1, 4),
]


@pytest.mark.parametrize("case", WINOGRAD_CASES, ids=[str(c) for c in WINOGRAD_CASES])
@pytest.mark.parametrize("training,keep", [(True, True), (True, False), (False, True)],
                         ids=["train", "train-recompute", "eval"])
def test_winograd_path_matches_im2col_path_and_torch(case, training, keep, monkeypatch):
    from guicnn.core import winograd

    monkeypatch.setattr(winograd, "KEEP_TRANSFORMED_INPUT", keep)

    c, f, h, w, padding, n = case
    rng = np.random.default_rng(0)
    x = batch_last(rng.normal(size=(n, c, h, w)).astype(np.float32))
    results = {}
    for path in ("winograd", "im2col"):
        monkeypatch.setattr(winograd, "applicable", (lambda *a: True) if path == "winograd" else (lambda *a: False))
        layer = layer_class("Conv2D")(filters=f, kernel_size=3, padding=padding)
        layer.build((c, h, w), np.random.default_rng(1))
        layer.params["bias"][...] = np.random.default_rng(2).normal(size=f)
        assert layer.uses_winograd((c, h, w)) == (path == "winograd")
        y = layer.forward(x, training)
        dy = batch_last(np.random.default_rng(3).normal(size=y.shape).astype(np.float32))
        layer.needs_input_grad = True
        dx = layer.backward(dy)
        results[path] = (y, dx, layer.grads["weight"].copy(), layer.grads["bias"].copy(), layer.params, dy)
    _, _, _, _, params, dy = results["winograd"]
    tx, tw, tb = _t(x, grad=True), _t(params["weight"], grad=True), _t(params["bias"], grad=True)
    ty = F.conv2d(tx, tw, tb, padding=padding)
    ty.backward(_t(dy))
    for path, (y, dx, dw, db, _, _) in results.items():
        assert_close(y, ty.detach().numpy(), err_msg=f"{path} forward")
        assert_close(dx, tx.grad.numpy(), err_msg=f"{path} input gradient")
        assert_close(dw, tw.grad.numpy(), err_msg=f"{path} weight gradient")
        assert_close(db, tb.grad.numpy(), err_msg=f"{path} bias gradient")
    for k, name in enumerate(("forward", "input gradient", "weight gradient", "bias gradient")):
        assert_close(results["winograd"][k], results["im2col"][k], err_msg=f"winograd vs im2col {name}")


def test_winograd_is_chosen_per_layer_shape():
    conv = layer_class("Conv2D")
    assert conv(filters=64, kernel_size=3, padding=1).uses_winograd((64, 28, 28))
    assert conv(filters=128, kernel_size=3, padding=1).uses_winograd((128, 14, 14))  # many channels: 12x12 is enough
    assert not conv(filters=64, kernel_size=3, padding=1).uses_winograd((64, 14, 14))  # small map: blocked im2col
    assert not conv(filters=64, kernel_size=3, padding=1).uses_winograd((32, 28, 28))  # 32 channels: blocked im2col
    assert not conv(filters=32, kernel_size=3, padding=1).uses_winograd((1, 28, 28))
    assert not conv(filters=64, kernel_size=5, padding=2).uses_winograd((64, 28, 28))
    assert not conv(filters=64, kernel_size=3, stride=2).uses_winograd((64, 28, 28))
    assert not conv(filters=64, kernel_size=3, dilation=2).uses_winograd((64, 28, 28))


# (Conv2D settings, torch kwargs, input C×H×W): input gradient as the flipped correlation (no more
# filters than channels, stride 1, padding within the window) and as scattered columns (the rest).
BLOCKED_CASES = [
    ({"filters": 8, "kernel_size": 3, "padding": 1}, {"padding": 1}, (8, 9, 7), "flipped"),
    ({"filters": 5, "kernel_size": 3}, {}, (12, 8, 9), "flipped"),
    ({"filters": 8, "kernel_size": 4, "padding": "same"}, {"padding": "same"}, (8, 7, 6), "flipped"),
    ({"filters": 6, "kernel_size": 3, "dilation": 2, "padding": 2}, {"dilation": 2, "padding": 2}, (9, 10, 9),
     "flipped"),
    ({"filters": 4, "kernel_size": [3, 5], "padding": [2, 4]}, {"padding": (2, 4)}, (8, 6, 7), "flipped"),  # k − 1
    ({"filters": 16, "kernel_size": 3, "padding": 1}, {"padding": 1}, (8, 9, 7), "columns"),  # more filters
    ({"filters": 4, "kernel_size": 3, "padding": 3}, {"padding": 3}, (8, 5, 6), "columns"),  # pad beyond window
    ({"filters": 4, "kernel_size": 3, "stride": 2, "padding": 1}, {"stride": 2, "padding": 1}, (8, 9, 8), "columns"),
    ({"filters": 3, "kernel_size": [2, 3], "stride": [1, 2], "dilation": [2, 1]},
     {"stride": (1, 2), "dilation": (2, 1)}, (8, 9, 9), "columns"),
    ({"filters": 3, "kernel_size": 3, "padding": 1}, {"padding": 1}, (2, 6, 6), "columns"),  # few channels
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("block_bytes", [1, 1 << 30], ids=["one-row-blocks", "two-blocks"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("settings,torch_kwargs,shape,route", BLOCKED_CASES, ids=[str(c[0]) for c in BLOCKED_CASES])
def test_row_blocked_convolution_matches_torch(settings, torch_kwargs, shape, route, training, block_bytes,
                                               monkeypatch):
    """Forward, weight and input gradients of the blocked im2col path, with blocks of one output row and with two."""
    from guicnn.core import blocked, winograd

    monkeypatch.setattr(blocked, "BLOCK_BYTES", block_bytes)
    layer = layer_class("Conv2D")(**settings)
    assert not layer.uses_winograd(shape)
    _compare_layer(layer, lambda x, p: F.conv2d(x, p["weight"], p.get("bias"), **torch_kwargs), shape,
                   training=training, batch=3)
    from guicnn.core.functional import window_geometry

    geometry = window_geometry(shape[1:], layer.kernel, layer.stride, layer.settings["padding"], layer.dilation)
    rows = geometry.out_hw[0]
    spans = blocked.row_blocks(rows, geometry.out_hw[1] * 3, shape[0] * layer.kernel[0] * layer.kernel[1])
    assert len(spans) == (rows if block_bytes == 1 else 2)
    flipped = blocked.flipped_applies(shape[0], settings["filters"], layer.stride, geometry.pads, geometry.k_eff)
    assert flipped == (route == "flipped")
    assert winograd.applicable(layer.kernel, layer.stride, layer.dilation, *shape[:1], settings["filters"],
                               geometry.out_hw) is False


@pytest.mark.parametrize("shape", [(16, 8, 8), (5, 7, 9)], ids=["16ch", "odd"])
def test_batchnorm_channel_rows_path_matches_torch(shape):
    """Batch-last input takes BatchNorm's contiguous-rows path; results equal PyTorch's."""
    layer = layer_class("BatchNorm")(momentum=0.3)
    bn = torch.nn.BatchNorm2d(shape[0], momentum=0.3)
    rng = np.random.default_rng(0)
    layer.build(shape, rng)
    layer.params["weight"][...] = rng.normal(size=shape[0])
    layer.params["bias"][...] = rng.normal(size=shape[0])
    with torch.no_grad():
        bn.weight.copy_(_t(layer.params["weight"]))
        bn.bias.copy_(_t(layer.params["bias"]))
    for training in (True, True, False):
        x = batch_last((rng.normal(size=(6,) + shape) * 2 + 0.5).astype(np.float32))
        assert layer._channel_rows(x) is not None
        bn.train(training)
        tx = _t(x, grad=True)
        ty = bn(tx)
        y = layer.forward(x, training)
        dy = batch_last(rng.normal(size=y.shape).astype(np.float32))
        ty.backward(_t(dy))
        layer.needs_input_grad = True
        dx = layer.backward(dy)
        assert_close(y, ty.detach().numpy(), err_msg="forward")
        assert_close(dx, tx.grad.numpy(), err_msg="input gradient")
        assert_close(layer.grads["weight"], bn.weight.grad.numpy(), err_msg="gamma gradient")
        assert_close(layer.grads["bias"], bn.bias.grad.numpy(), err_msg="beta gradient")
        bn.zero_grad()
    assert_close(layer.buffers["running_mean"], bn.running_mean.numpy())
    assert_close(layer.buffers["running_var"], bn.running_var.numpy())


VGG_LIKE = {
    "input_shape": [3, 12, 12],
    "layers": [
        {"type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": 1}, {"type": "BatchNorm"}, {"type": "ReLU"},
        {"type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
        {"type": "MaxPool2D", "pool_size": 2},
        {"type": "Conv2D", "filters": 20, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
        {"type": "MinPool2D", "pool_size": 2}, {"type": "Flatten"}, {"type": "Dense", "units": 5},
    ],
}


def test_vgg_like_model_with_every_fast_path_matches_torch(monkeypatch):
    """Winograd, BatchNorm rows, ReLU folded into max and min pooling: a whole model against PyTorch."""
    from guicnn.core import winograd
    from guicnn.core.export import torch_code

    monkeypatch.setattr(winograd, "MIN_OUTPUT", 6)
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 16)
    monkeypatch.setattr(winograd, "MIN_FILTERS", 16)

    model = Sequential.from_config(VGG_LIKE, seed=4)
    assert model.layers[3].uses_winograd((16, 12, 12)) and model.layers[6].uses_winograd((16, 6, 6))
    namespace = {}
    exec(compile(torch_code(VGG_LIKE), "<torch_code>", "exec"), namespace)
    net = namespace["build_model"]()
    net.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()}, strict=True)
    x = np.random.default_rng(5).normal(size=(6, 3, 12, 12)).astype(np.float32)
    for training in (True, False):
        net.train(training)
        net.zero_grad()
        tx = _t(x, grad=True)
        ty = net(tx)
        dy = np.random.default_rng(6).normal(size=tuple(ty.shape)).astype(np.float32)
        ty.backward(_t(dy))
        y = model.forward(x, training=training)
        dx = model.backward(dy, input_grad=True)
        assert_close(y, ty.detach().numpy(), err_msg="forward")
        assert_close(dx, tx.grad.numpy(), err_msg="input gradient")
        grads = dict(net.named_parameters())
        for name, grad in model.named_gradients().items():
            assert_close(grad, grads[name].grad.numpy(), err_msg=name)
