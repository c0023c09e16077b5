"""What a layer card says, computed from the document's analysis (no widgets here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from guicnn.core import Analysis, ConfigError, layer_class
from guicnn.core.health import LayerHealth
from guicnn.core.layers.common import fmt_shape
from guicnn.ui.style import fmt_count


@dataclass(frozen=True)
class Card:
    """The text and state of one layer card in the stack."""

    index: int
    type_name: str
    glyph: str
    group: str
    title: str
    subtitle: str
    shape: str
    params: str
    error: str | None = None
    warnings: tuple[str, ...] = ()
    sees: str | None = None  # "What does this layer see?" in one phrase
    fixes: tuple[str, ...] = ()  # the fix buttons' texts, in the order of the document's fixes
    health: LayerHealth | None = None  # from the last epoch of training (core.health)

    @property
    def tooltip(self) -> str:
        lines = [f"{self.title}", f"output {self.shape or '—'} · {self.params}"]
        if self.error:
            lines.append(f"Error: {self.error}")
        lines += [f"Warning: {w}" for w in self.warnings]
        if self.sees:
            lines.append(self.sees)
        if self.health is not None:
            lines += ["", f"Health ({HEALTH_WORDS[self.health.status]}): {self.health.explanation}"]
        return "\n".join(lines)


HEALTH_WORDS = {"green": "good", "amber": "watch it", "red": "a problem"}


def make_cards(analysis: Analysis, sees: Sequence[str | None] | None = None,
               fixes: dict[int | None, Sequence[str]] | None = None) -> list[Card]:
    """One card per analysed layer: glyph and group from the registry, text from ``describe()``;
    ``sees`` and ``fixes`` (per layer index) add the view line and the fix buttons."""
    sees = list(sees or [])
    fixes = fixes or {}
    return [_card(info, sees[info.index] if info.index < len(sees) else None, tuple(fixes.get(info.index, ())))
            for info in analysis.layers]


def _card(info, sees: str | None = None, fixes: tuple[str, ...] = ()) -> Card:
    try:
        cls = layer_class(info.type)
        glyph, group = cls.glyph, cls.group
    except ConfigError:
        glyph, group = "?", ""
    title = info.description or info.type
    if info.name:
        title = f"{info.name} · {title}"
    if info.output_shape is None:
        # An error here or above: shapes and counts are unknown until it is fixed.
        shape, params = ("error", "") if info.error else ("?", "waits for the error above")
    else:
        shape = fmt_shape(info.output_shape)
        params = f"{fmt_count(info.params)} params" if info.params else "no params"
    subtitle = f"#{info.index} · {group or 'unknown type'}"
    return Card(info.index, info.type, glyph, group, title, subtitle, shape, params,
                info.error, tuple(info.warnings), sees if info.output_shape is not None else None, fixes)
