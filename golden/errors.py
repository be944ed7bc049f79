"""The exceptions users see, each with a one-line message and the CLI's exit status.

  QuantpeError (exit 2)        bad parameters, files, configs or usage
  ConfigError (exit 2)         a design parameter out of range or inconsistent
  ToolError (exit 3)           a missing or broken external tool or environment (what to install)
  VerificationError (exit 1)   the RTL disagrees with the golden model (mismatch summary,
                               waveform and rerun command in the message)
The CLI prints `quantpe: error: <message>` (or `quantpe: FAIL: ...` for a verification failure)
and exits with `exit_code`; anything else is a bug and keeps its traceback under --debug.
`warn(message)` prints `quantpe: warning: <message>` on stderr, once per run (`new_run`) and message.
"""
import sys

_warned: set = set()


def new_run() -> None:
    """Forget the warnings given so far (the CLI calls it when a command starts)."""
    _warned.clear()


def warn(message: str) -> None:
    """`quantpe: warning: message` on stderr, the first time this run says it."""
    if message not in _warned:
        _warned.add(message)
        print(f"quantpe: warning: {message}", file=sys.stderr, flush=True)



class QuantpeError(ValueError):
    """A user-facing error with a one-line message."""

    exit_code = 2


class ConfigError(QuantpeError):
    """A design parameter is out of range or inconsistent."""


class ToolError(QuantpeError):
    """An external tool (simulator, Yosys, compiler) is missing, fails to run or its output
    cannot be read."""

    exit_code = 3


class VerificationError(QuantpeError):
    """The RTL and the golden model disagree (or a simulation did not finish)."""

    exit_code = 1
