import os

# Qt must be told before it is first imported anywhere in the test run.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GUICNN_NO_SETTINGS", "1")
