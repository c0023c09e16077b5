"""The design editor: document and undo commands, palette, layer stack and cards, inspector, summary."""
