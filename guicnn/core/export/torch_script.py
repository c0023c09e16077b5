"""A runnable, readable PyTorch training script for a design, with the settings of a model file.

The script trains the design's ``nn.Sequential`` with the same data loading (through
``guicnn.core.data``), split, normalisation, augmentation, optimizer, learning rate,
schedule, batch size and loss as guicnn would, and writes a guicnn model file at the end.
It runs as one process or unchanged under ``torchrun`` (DistributedDataParallel with a
DistributedSampler; NCCL on GPUs, Gloo on CPUs; only rank 0 writes).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from ..optim import make_optimizer
from ..training import TrainSettings
from .torch_code import sequential_source

# PyTorch's names for the keyword arguments of guicnn's optimizer settings.
_TORCH_OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop"}


def _optimizer_line(settings: TrainSettings) -> str:
    """``optimizer = torch.optim.Adam(...)`` with every setting written out (lr from --lr)."""
    import numpy as np

    config = make_optimizer({"w": np.zeros(1, np.float32)}, settings.optimizer).get_config()
    kind = config.pop("type")
    config.pop("lr")
    args = ["trained.parameters()", "lr=args.lr"]
    for key, value in config.items():
        args.append(f"{key}={tuple(value) if isinstance(value, list) else value!r}")
    return f"optimizer = torch.optim.{_TORCH_OPTIMIZERS[kind]}({', '.join(args)})"


def _scheduler_line(settings: TrainSettings) -> str:
    """The learning-rate schedule as PyTorch's scheduler (stepped once per epoch), or a comment."""
    schedule = settings.schedule or {}
    kind = schedule.get("type", "constant")
    if kind == "step":
        step_size, gamma = int(schedule.get("step_size", 10)), float(schedule.get("gamma", 0.1))
        return f"scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size={step_size}, gamma={gamma!r})"
    if kind == "cosine":
        t_max = int(schedule["t_max"]) if schedule.get("t_max") else "args.epochs"
        return (f"scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max={t_max}, "
                f"eta_min={float(schedule.get('eta_min', 0.0))!r})")
    return "scheduler = None  # constant learning rate"


def python_literal(value: Any) -> str:
    """A JSON-like value as a one-line Python literal with double-quoted strings."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {python_literal(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def python_block(mapping: dict[str, Any], width: int = 100) -> str:
    """A dict written one key per line; a list too long for one line gets one item per line."""
    lines = ["{"]
    for key, value in mapping.items():
        head = f"    {json.dumps(key, ensure_ascii=False)}: "
        text = python_literal(value)
        if isinstance(value, list) and len(head) + len(text) > width:
            lines.append(head + "[")
            lines += [f"        {python_literal(item)}," for item in value]
            lines.append("    ],")
        else:
            lines.append(f"{head}{text},")
    return "\n".join(lines + ["}"])


def _settings_text(settings: TrainSettings) -> str:
    """One readable line: optimizer, lr, batch, epochs, loss, split, normalisation, augmentation."""
    parts = [f"{settings.optimizer.get('type', 'adam')} lr {settings.lr:g}", f"batch size {settings.batch_size}",
             f"{settings.epochs} epochs", settings.loss.replace("_", "-")]
    if settings.schedule and settings.schedule.get("type", "constant") != "constant":
        parts.append(f"{settings.schedule['type']} schedule")
    parts.append(f"validation {100 * settings.val_fraction:g}%" if settings.val_fraction else "no validation")
    if settings.normalize:
        parts.append("normalised")
    aug = settings.augment
    if aug.get("shift"):
        parts.append(f"shift ±{aug['shift']} px")
    if aug.get("flip"):
        parts.append("flips")
    return ", ".join(parts)


def training_script(config: dict[str, Any], *, settings: TrainSettings | dict | None = None,
                    data: str | None = None, source: str = "", script_name: str = "train.py") -> str:
    """Python source of a PyTorch training script for ``config``.

    ``settings`` are the guicnn training settings (a model file's, or the defaults);
    ``data`` is the default of ``--data``; ``source`` names where the settings came from.
    ConfigError if the design is invalid or a layer type has no PyTorch export.
    """
    if settings is None:
        settings = TrainSettings()
    elif isinstance(settings, dict):
        settings = TrainSettings.from_dict(settings)
    lines, helpers = sequential_source(config)
    title = config.get("name") or "design"
    stem = "".join(c if c.isalnum() else "_" for c in title.lower()).strip("_") or "model"
    design = {key: config[key] for key in ("name", "input_shape", "layers") if key in config}
    replacements = {
        "TITLE": title,
        "SETTINGS_TEXT": textwrap.fill(f"Settings from {source or 'guicnn defaults'}: {_settings_text(settings)}.",
                                       width=92, break_on_hyphens=False),
        "SCRIPT": Path(script_name).name,
        "DATA": data or "digits",
        "DATA_LITERAL": python_literal(data or "digits"),
        "OUT": f"{stem}.safetensors",
        "DESIGN": python_block(design),
        "SETTINGS": python_block(settings.to_dict()),
        "HELPERS": "".join("\n" + source.rstrip("\n") + "\n\n" for source in helpers.values()),
        "MODULES": "\n".join(lines),
        "OPTIMIZER": _optimizer_line(settings),
        "SCHEDULER": _scheduler_line(settings),
    }
    text = TEMPLATE
    for key, value in replacements.items():
        text = text.replace("{{" + key + "}}", value)
    return text


TEMPLATE = '''#!/usr/bin/env python3
"""Train the guicnn design "{{TITLE}}" with PyTorch (script written by guicnn).

{{SETTINGS_TEXT}}
The data is read, split and normalised exactly as guicnn does, and at the end the script
writes a guicnn model file (weights, training history, settings) that `guicnn evaluate`
and the guicnn window open.

One process, on the CPU or one GPU:
    python {{SCRIPT}} --data {{DATA}} --epochs 10 --out {{OUT}}
Several GPUs or machines, unchanged, with PyTorch's launcher (NCCL on GPUs, Gloo on CPUs):
    torchrun --nproc_per_node 4 {{SCRIPT}} --data {{DATA}} --device cuda
Every process trains on its own share of each epoch with --batch-size samples per step, so
N processes take N times as many samples per optimizer step. Only the first process writes.

Needs torch, numpy and guicnn (for the data formats and the model file).
"""

import argparse
import math
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from guicnn.core.data import Normalization, load_dataset, train_val_split
from guicnn.core.export.weights import write_model_file
from guicnn.core.modelfile import load_model
from guicnn.core.training import HISTORY_KEYS, batch_bounds

DESIGN = {{DESIGN}}

# guicnn's training settings (written into the model file; --epochs, --batch-size and --lr override them).
SETTINGS = {{SETTINGS}}
{{HELPERS}}

def build_model() -> nn.Sequential:
    """Module i is guicnn layer i, so the weights keep guicnn's names ("0.weight", ...)."""
    return nn.Sequential(
{{MODULES}}
    )


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default={{DATA_LITERAL}},
                        help="digits, shapes, mnist, fashion-mnist, cifar10 or a path (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"], help="default: %(default)s")
    parser.add_argument("--batch-size", type=int, default=SETTINGS["batch_size"],
                        help="samples per step in each process (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=SETTINGS["optimizer"]["lr"], help="default: %(default)s")
    parser.add_argument("--out", default="{{OUT}}", help="guicnn model file to write (default: %(default)s)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--init", metavar="MODEL", help="start from this guicnn model file's weights")
    return parser.parse_args()


def start_processes(device_name):
    """(rank, number of processes, device): one process, or one of those torchrun starts."""
    if "RANK" not in os.environ:  # plain `python train.py`
        return 0, 1, torch.device(device_name)
    local_rank = int(os.environ["LOCAL_RANK"])
    if device_name == "cuda":
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl")
        return dist.get_rank(), dist.get_world_size(), torch.device("cuda", local_rank)
    # CPU processes on one machine share its cores.
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    dist.init_process_group("gloo")
    return dist.get_rank(), dist.get_world_size(), torch.device("cpu")


def summed(values, device):
    """Add numbers up over all processes (with one process: the numbers themselves)."""
    values = torch.as_tensor(values, dtype=torch.float64, device=device)
    if dist.is_initialized():
        dist.all_reduce(values)
    return values.tolist()


def load_data(spec, normalization):
    """Training and validation tensors, split and normalised as guicnn does."""
    data = load_dataset(spec)
    if math.prod(data.input_shape) != math.prod(DESIGN["input_shape"]):
        raise SystemExit(f"the images of {spec} are {data.input_shape} but the design takes {DESIGN['input_shape']}")
    train, val = data, None
    if SETTINGS["val_fraction"] > 0 and len(data) >= 2:
        split_seed = SETTINGS["seed"] if SETTINGS.get("split_seed") is None else SETTINGS["split_seed"]
        train, val = train_val_split(data, SETTINGS["val_fraction"], seed=split_seed)
    if normalization is None and SETTINGS["normalize"]:
        normalization = Normalization.fit(train.x)  # per channel, on the training split only
    return data, train, val, normalization


def augment(x):
    """Shift each image by its own random offset (zeros move in) and mirror half of them."""
    shift, flip = SETTINGS["augment"].get("shift", 0), SETTINGS["augment"].get("flip", False)
    n, c, h, w = x.shape
    if shift:
        padded = F.pad(x, (shift, shift, shift, shift))
        rows = torch.arange(h, device=x.device) + torch.randint(0, 2 * shift + 1, (n, 1), device=x.device)
        cols = torch.arange(w, device=x.device) + torch.randint(0, 2 * shift + 1, (n, 1), device=x.device)
        samples = torch.arange(n, device=x.device)[:, None, None, None]
        channels = torch.arange(c, device=x.device)[:, None, None]
        x = padded[samples, channels, rows[:, None, :, None], cols[:, None, None, :]]
    if flip:
        mirrored = torch.rand(n, device=x.device) < 0.5
        x = torch.where(mirrored[:, None, None, None], x.flip(3), x)
    return x


def loss_function(outputs, labels):
    """The loss guicnn trains with, on outputs flattened to (batch, classes)."""
    if SETTINGS["loss"] == "mse":
        return F.mse_loss(outputs, F.one_hot(labels, outputs.shape[1]).to(outputs.dtype))
    return F.cross_entropy(outputs, labels)


def evaluate(network, x, y, prepare, rank, world, device, batch_size=256):
    """(loss, accuracy) over x, y; every process takes every world-th sample, the sums are shared."""
    network.eval()
    loss_sum = correct = 0.0
    with torch.no_grad():
        mine = torch.arange(rank, len(x), world)
        for start in range(0, len(mine), batch_size):
            index = mine[start:start + batch_size]
            outputs = network(prepare(x[index].to(device), False)).flatten(1)
            labels = y[index].to(device)
            loss_sum += loss_function(outputs, labels).item() * len(index)
            correct += (outputs.argmax(1) == labels).sum().item()
    loss_sum, correct = summed([loss_sum, correct], device)
    return loss_sum / len(x), correct / len(x)


def optimizer_state(optimizer, network):
    """The optimizer's running averages under guicnn's names ("0.weight.exp_avg")."""
    state = {}
    for name, parameter in network.named_parameters():
        for slot, value in optimizer.state.get(parameter, {}).items():
            if slot != "step" and torch.is_tensor(value):
                state[f"{name}.{slot}"] = value.detach().cpu().numpy()
    return state


def main():
    args = parse_args()
    rank, world, device = start_processes(args.device)
    torch.manual_seed(SETTINGS["seed"] + rank)  # DDP copies rank 0's initial weights to the others
    model = build_model()
    history = {key: [] for key in HISTORY_KEYS + ("batch_loss", "batch_epoch")}
    normalization, steps = None, 0
    if args.init:
        start = load_model(args.init)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in start.model.state_dict().items()}, strict=True)
        normalization = start.normalization
        history.update({k: list(v) for k, v in start.history.items() if k in history})
        steps = int(start.training.get("step", 0))
    data, train, val, normalization = load_data(args.data, normalization)
    model = model.to(device)
    # Cross-entropy takes logits: a final Softmax is left out while training, as guicnn does.
    ends_with_softmax = isinstance(model[-1], nn.Softmax) and SETTINGS["loss"] == "cross_entropy"
    trained = model[:-1] if ends_with_softmax else model
    network = trained
    if world > 1:  # gradients are averaged over the processes after every backward pass
        network = DistributedDataParallel(trained, device_ids=[device.index] if device.type == "cuda" else None)
    {{OPTIMIZER}}
    {{SCHEDULER}}

    mean = std = None
    if normalization is not None:
        mean = torch.tensor(normalization.mean, device=device).view(-1, 1, 1)
        std = torch.tensor(normalization.std, device=device).view(-1, 1, 1)

    def prepare(x, training):
        """A batch as the network takes it: augmented (in training), normalised, flat for a flat input."""
        if training:
            x = augment(x)
        if mean is not None:
            x = (x - mean) / std
        return x.flatten(1) if len(DESIGN["input_shape"]) == 1 else x

    train_x, train_y = torch.from_numpy(train.x), torch.from_numpy(train.y)
    sampler = DistributedSampler(range(len(train_x)), num_replicas=world, rank=rank, shuffle=True,
                                 seed=SETTINGS["seed"])
    first = len(history["epoch"])
    if rank == 0:
        where = f"{world} processes" if world > 1 else "1 process"
        print(f"training {DESIGN.get('name', 'design')} on {data.name}: {len(train)} training and "
              f"{len(val) if val else 0} validation samples, {where} on {device.type}", flush=True)
    for epoch in range(first, first + args.epochs):
        sampler.set_epoch(epoch)
        order = torch.tensor(list(sampler))
        network.train()
        lr = optimizer.param_groups[0]["lr"]
        began = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        batch_losses = []
        for start, stop in batch_bounds(len(order), args.batch_size):
            index = order[start:stop]
            x, labels = prepare(train_x[index].to(device), True), train_y[index].to(device)
            outputs = network(x).flatten(1)
            loss = loss_function(outputs, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.detach())
            loss_sum += loss.detach() * len(index)
            correct += (outputs.argmax(1) == labels).sum()
        if scheduler is not None:
            scheduler.step()
        seconds = time.perf_counter() - began
        seen, total_loss, total_correct = summed([len(order), loss_sum.item(), correct.item()], device)
        batch_losses = [value / world for value in summed(torch.stack(batch_losses), device)]
        steps += len(batch_losses)
        val_loss = val_accuracy = None
        if val is not None:
            val_loss, val_accuracy = evaluate(trained, torch.from_numpy(val.x), torch.from_numpy(val.y), prepare,
                                              rank, world, device)
        for key, value in (("epoch", epoch + 1), ("train_loss", total_loss / seen),
                           ("train_accuracy", total_correct / seen), ("val_loss", val_loss),
                           ("val_accuracy", val_accuracy), ("lr", lr), ("seconds", round(seconds, 3))):
            history[key].append(value)
        history["batch_loss"] += batch_losses
        history["batch_epoch"] += [epoch + 1] * len(batch_losses)
        if rank == 0:
            line = (f"epoch {epoch + 1}/{first + args.epochs}  loss {total_loss / seen:.4f}  "
                    f"acc {100 * total_correct / seen:.1f}%")
            if val_loss is not None:
                line += f"  val_loss {val_loss:.4f}  val_acc {100 * val_accuracy:.1f}%"
            print(line + f"  {seen / seconds:,.0f} samples/s  lr {lr:g}", flush=True)

    if rank == 0:
        settings = dict(SETTINGS, epochs=first + args.epochs, batch_size=args.batch_size,
                        optimizer=dict(SETTINGS["optimizer"], lr=args.lr))
        spec = str(Path(args.data).resolve()) if Path(args.data).exists() else args.data
        write_model_file(
            args.out, DESIGN, {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()},
            settings=settings, history=history, step=steps, normalization=normalization,
            dataset={"name": data.name, "source": data.source, "spec": spec,
                     "input_shape": list(data.input_shape), "class_names": list(data.class_names)},
            optimizer_state=optimizer_state(optimizer, trained),
        )
        print(f"saved to {args.out}; inspect it with: guicnn evaluate {args.out}", flush=True)
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
'''


__all__ = ["training_script"]
