"""Errors that end a run with a one-line message instead of a traceback."""

from __future__ import annotations


class InputError(Exception):
    """Input Onramp cannot use at all: a missing file, a corrupt archive, an unparsable CSV.

    The CLI prints ``str(error)`` on one line and exits with status 2. Rows that are merely
    unusable never raise this: they go to the rejects.

    Args:
        uri: The file (or archive member) that is wrong, as the user would recognise it.
        problem: What is wrong, in a few words, without secrets or email addresses.
        line: The 1-based line in that file, when one line is to blame.
    """

    def __init__(self, uri: str, problem: str, line: int | None = None) -> None:
        # Imported here: tasks.extract.locations raises this error. A URL is named without its
        # user-info and query, where a credential may sit under a name no filter knows.
        from tasks.extract.locations import redact

        self.uri = redact(uri)
        self.problem = problem
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.uri}:{self.line}" if self.line is not None else self.uri
        return f"{where}: {self.problem}"

    def __reduce__(self) -> tuple:
        # Pickled with its fields, not its message: a failed state's error crosses processes
        # (a Dask worker's account) and result storage, and __init__ needs them.
        return type(self), (self.uri, self.problem, self.line)


class LoadError(Exception):
    """A load into HubSpot that cannot go on (authentication refused, daily quota spent, ...).

    The message never carries a token. The CLI prints it on one line and exits with status 1.
    """
