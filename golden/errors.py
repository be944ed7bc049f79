"""The one exception type users see: bad parameters, files or configs.

The CLI prints `quantpe: error: <message>` for these and exits with status 2; anything else is a
bug and keeps its traceback.
"""


class QuantpeError(ValueError):
    """A user-facing error with a one-line message."""


class ConfigError(QuantpeError):
    """A design parameter is out of range or inconsistent."""
