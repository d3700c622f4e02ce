"""A pass's env file stamps, taken by one thread: no stat on the event loop, one thread hop per pass.

Whether a tenant's env file changed since it was read is told by its stamp (``envsource.file_stamp``).
A stat blocks on a hung mount as a read does, so it must not run on the event loop, and a thread per
tenant would cost a hop each. A pass's first env read starts one thread that stats every env file of
the pass in order; readers wait for it up to ``PATIENCE_S`` from its start (the loop has nothing else to
do then, so it takes milliseconds), or a quarter of the db and config checks' deadline if that is less.
A file the thread has not reached by then, behind a stat that hangs, is stat'ed in a thread of its own
(``Reuse.stamp_read``), under its check's deadline. A run outside a pass uses that thread alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Final

from opsdash.config import envsource
from opsdash.config.envsource import DotenvFile, FileStamp
from opsdash.engine.pass_cache import start_read

PATIENCE_S = 0.5
KEY: Final = ("env-stamps",)
"""The pass cache's key for a pass's ``PassStamps``."""


class NotReached:
    """The pass's thread has not stat'ed this file (yet, or ever)."""


NOT_REACHED = NotReached()


class PassStamps:
    """Stamps of the given env files, taken in order by one thread started now."""

    def __init__(self, files: Sequence[DotenvFile], patience_s: float = PATIENCE_S) -> None:
        self._stamps: dict[str, FileStamp | None] = {}
        self._until = asyncio.get_running_loop().time() + patience_s
        self._done = start_read(lambda: asyncio.to_thread(self._stat_all, list(files)))

    def _stat_all(self, files: list[DotenvFile]) -> None:
        for file in files:
            self._stamps[file.label] = envsource.file_stamp(file.path)

    async def stamp(self, source: DotenvFile) -> FileStamp | NotReached | None:
        """The file's stamp once the thread has passed it, waiting for it until ``patience_s`` after the
        thread started; ``NOT_REACHED`` after that."""
        if source.label in self._stamps:
            return self._stamps[source.label]
        left = self._until - asyncio.get_running_loop().time()
        if left > 0 and not self._done.done():
            await asyncio.wait({self._done}, timeout=left)
        return self._stamps.get(source.label, NOT_REACHED)
