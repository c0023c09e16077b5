"""Wording shared by the GUI and the command line."""

from __future__ import annotations


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """'1 image', '0 images', '2,000 images'; give ``plural_noun`` where adding "s" is wrong
    (``plural(3, "class", "classes")``)."""
    count = int(count)
    if count == 1:
        return f"1 {noun}"
    return f"{count:,} {plural_noun or noun + 's'}"
