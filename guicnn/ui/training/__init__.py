"""The training workbench: its panel, controller, worker and the window's tabs."""
