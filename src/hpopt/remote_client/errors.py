"""How the client ends: its exit statuses and the one error that carries one.

Every failure becomes a ClientError with a status, and cli.main prints it as one line, so a
wrong URL, key or setting never shows a traceback.
"""

from __future__ import annotations

EXIT_OK, EXIT_JOB_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_UNAUTHORIZED, EXIT_DETACHED = 0, 1, 2, 1, 4, 130


class ClientError(Exception):
    """Ends the client with ``code`` after printing the message."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def one_line(exc: BaseException) -> str:
    """An exception as one line (its type name when it has no message)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
