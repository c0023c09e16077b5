"""guicnn.ui: the PySide6 + pyqtgraph desktop application (all Qt code lives here)."""
