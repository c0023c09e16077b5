"""Write guicnn/resources/digits.npz from scikit-learn's bundled copy of the UCI digits.

The data: "Optical Recognition of Handwritten Digits" (E. Alpaydin and C. Kaynak, 1998),
UCI Machine Learning Repository, CC BY 4.0 -- the 1,797-image test part that
scikit-learn ships as ``sklearn.datasets.load_digits`` (8x8 images, values 0..16).

Run once, in a throwaway environment that has scikit-learn (no network needed):

    python -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn
    /tmp/skl/bin/python scripts/make_digits.py

scikit-learn is only needed here; guicnn reads the .npz with NumPy alone.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parent.parent / "guicnn" / "resources" / "digits.npz"
    parser.add_argument("--out", type=Path, default=default, help=f"output file (default {default})")
    args = parser.parse_args(argv)

    from sklearn.datasets import load_digits  # only this script needs scikit-learn

    bunch = load_digits()
    images = np.asarray(bunch.images)
    labels = np.asarray(bunch.target)
    if images.shape != (1797, 8, 8) or labels.shape != (1797,):
        raise SystemExit(f"unexpected shapes {images.shape}, {labels.shape}")
    if images.min() < 0 or images.max() > 16 or not np.array_equal(images, np.round(images)):
        raise SystemExit("expected integer pixel values 0..16")
    images = images.astype(np.uint8)
    labels = labels.astype(np.uint8)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=images, labels=labels)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    counts = np.bincount(labels, minlength=10).tolist()
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, sha256 {digest})")
    print(f"images {images.shape} uint8 0..{images.max()}, per-class counts {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
