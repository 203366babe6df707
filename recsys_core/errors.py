"""Exception types raised at the boundaries of recsys_core.

Every message is written for the analyst: what was expected, what was found,
and how to fix it.  The CLI prints ``str(error)`` as one line and exits
non-zero; the dashboard shows it in an ``st.error``.
"""


class RecsysError(Exception):
    """Base class for every error recsys_core raises on purpose."""


class DataValidationError(RecsysError):
    """Uploaded or passed-in data cannot be used as it is."""


class ArtifactError(RecsysError):
    """A saved model directory is missing, incomplete or of an unknown format."""


class UnknownEntityError(RecsysError):
    """A user or item id that the model (or dataset) does not know."""
