"""Reading uploaded tables and turning them into a validated :class:`~recsys_core.schema.Dataset`.

The public API; each concept has its own module:

* :mod:`.tables` -- :func:`read_table`: one file (path, bytes, upload) to a DataFrame: CSV / TSV /
  Parquet detection, encoding checks, size limit.  Knows nothing about users or items.
* :mod:`.recbole` -- RecBole atomic files (``.inter``/``.item``/``.user``) read as ordinary tables.
* :mod:`.interactions` -- the interaction columns, ratings, timestamps, duplicates, ``min_rating``;
  :func:`load_interactions`.
* :mod:`.entities` -- the items and users tables: ids, renames, text fields (:func:`describe_fields`),
  coverage against the interactions.
* :mod:`.dataset` -- :func:`load_dataset`, the three tables in order into a ``Dataset``.
* :mod:`.increment` -- :func:`load_increment`: new interactions, items and profiles for an incremental update.
* :mod:`.new_users` -- :func:`load_new_users`: histories and profiles of users a saved model never saw.
* :mod:`.footprint` -- the memory a load will take, estimated from the files before parsing them.
* :mod:`.options` -- :class:`LoadOptions`, load_dataset's choices as one typed, storable object.
* :mod:`.columns`, :mod:`.messages` -- shared helpers: reading id/number columns; wording messages.

Every problem the analyst can fix is raised as :class:`~recsys_core.errors.DataValidationError` with a
message that names the file, says what was expected, what was found and how to fix it.  Findings that
did not stop loading are :class:`~recsys_core.schema.Notice` objects in ``Dataset.notices``, each with
its final severity ("warning" or "info"), decided where it is made.  Nothing here imports streamlit.
"""
from __future__ import annotations

from .dataset import load_dataset
from .entities import describe_fields
from .increment import load_increment
from .interactions import load_interactions
from .new_users import NewUser, load_new_users
from .options import LoadOptions
from .tables import DEFAULT_MAX_BYTES, BinaryReadable, TableInput, TableSource, read_table

__all__ = [
    "DEFAULT_MAX_BYTES",
    "BinaryReadable",
    "LoadOptions",
    "NewUser",
    "TableInput",
    "TableSource",
    "describe_fields",
    "load_dataset",
    "load_increment",
    "load_interactions",
    "load_new_users",
    "read_table",
]
