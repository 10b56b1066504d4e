"""`evaluate` over a history file on several processes: each takes a share of the learners
(every process reads every line, as replay's do), and the shares' results are merged into
the ones one process gives; the parent shows the bytes read for the progress bar."""

from __future__ import annotations

import datetime as dt
import heapq
import multiprocessing
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

from stream.core.policy import Policy
from stream.tools.replay import Share, Summary, few_collections
from stream.tools.whatif.engine import Found, PolicyResult, Progress, evaluate


def evaluate_file(
    path: Path,
    policies: list[Policy],
    until: list[dt.datetime | None],
    strict: bool = False,
    workers: int = 1,
    progress: Progress | None = None,
) -> list[PolicyResult]:
    """`evaluate` over a history file, in `workers` processes that each take a share of
    the learners (every process reads every line, as replay's do): the same results."""
    if workers <= 1:
        with few_collections(), path.open("rb") as source:
            return evaluate(source, policies, until, strict, (0, 1), progress)
    context = multiprocessing.get_context()  # fork on Linux: the children start at once
    read = context.Value("q", 0)
    jobs = [(path, policies, until, strict, (index, workers)) for index in range(workers)]
    with few_collections(), context.Pool(workers, initializer=_child, initargs=(read,)) as pool:
        waiting = pool.map_async(_share, jobs)
        told = 0
        while not waiting.ready():
            waiting.wait(0.2)
            now = read.value
            if progress is not None and now > told:
                progress(now - told)
                told = now
        parts = waiting.get()
    return [_merged([part[i] for part in parts]) for i in range(len(policies))]


_read: Synchronized[int] | None = None  # bytes read by this child (shared with the parent)


def _child(read: Synchronized[int]) -> None:
    global _read
    _read = read


def _count_read(size: int) -> None:
    if _read is not None:
        with _read.get_lock():
            _read.value += size


def _share(
    job: tuple[Path, list[Policy], list[dt.datetime | None], bool, Share],
) -> list[PolicyResult]:
    path, policies, until, strict, share = job
    with few_collections(), path.open("rb") as source:
        return evaluate(source, policies, until, strict, share, _count_read)


def _merged(parts: list[PolicyResult]) -> PolicyResult:
    """One policy's result from its shares: each read every record, and its own learners."""
    total = Summary.merged([part.summary for part in parts])
    found = list(heapq.merge(*(part.found for part in parts), key=_order))
    feedback = [item for part in parts for item in part.feedback]
    talks = [talk for part in parts for talk in part.talks]
    return PolicyResult(total, found, parts[0].errors, feedback, talks)


def _order(found: Found) -> tuple[int, int]:
    return found.number, found.rank
