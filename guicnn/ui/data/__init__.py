"""The data panel: choosing, loading and previewing a data set."""
