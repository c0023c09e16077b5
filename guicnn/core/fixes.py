"""One-click fixes: a sentence for the button and the whole design it leads to.

Shared by every check that can say what would be right: the shape analysis
(``analysis.suggest_fixes``), the data check before training and the CLI, which prints them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fix:
    """A proposed edit: ``description`` is the button text, ``design`` the whole fixed design dict.

    ``layer`` is the 0-based index of the layer the fix changes (None when it changes the input
    shape or adds layers at the end); ``kind`` names the edit ("set_input", "set_field",
    "remove_layer", "insert_layers", ...) so a GUI can name its undo step.
    """

    description: str
    design: dict[str, Any] = field(compare=False)
    layer: int | None = None
    kind: str = "edit"
