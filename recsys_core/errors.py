"""Exception types raised at the boundaries of recsys_core.

Every message is written for the analyst.  Its first line (under 200
characters) says what is wrong and how to fix it; longer details (which
values, the underlying library's words) go on the following lines.  The CLI
prints the first line on stderr and exits non-zero; the dashboard shows the
whole message in an ``st.error``.
"""
from __future__ import annotations

SUMMARY_LIMIT = 200


class RecsysError(Exception):
    """Base class for every error recsys_core raises on purpose.

    ``RecsysError(summary, details)`` joins the two with a newline; ``summary``
    and ``details`` read them back.
    """

    def __init__(self, summary: str = "", details: str | None = None):
        super().__init__(summary if not details else f"{summary}\n{details}")

    @property
    def summary(self) -> str:
        """The first line: what is wrong and the fix."""
        return str(self).split("\n", 1)[0]

    @property
    def details(self) -> str:
        """Everything after the first line ('' when there is nothing more)."""
        parts = str(self).split("\n", 1)
        return parts[1] if len(parts) > 1 else ""


class DataValidationError(RecsysError):
    """Uploaded or passed-in data cannot be used as it is."""


class ArtifactError(RecsysError):
    """A saved model directory is missing, incomplete or of an unknown format."""


class UnknownEntityError(RecsysError):
    """A user or item id that the model (or dataset) does not know."""


class OutputPathError(RecsysError):
    """A place to write to that would destroy something we did not create (a file, a foreign folder)."""


def shown_path(path: object, limit: int = 60) -> str:
    """A path short enough for a message's first line: long ones keep only their last two parts."""
    text = str(path)
    if len(text) <= limit:
        return text
    parts = text.replace("\\", "/").rstrip("/").split("/")
    return "…/" + "/".join(parts[-2:])[-limit:]
