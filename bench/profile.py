"""Summarise a py-spy profile in collapsed-stack form (`py-spy record --format raw`).

    .venv/bin/python -m bench.profile FILE [--top 25] [--match stream/]

Prints the functions with the largest share of samples, inclusive (the function or what it
called was running) and self (the function itself was on top), as `bench.pipeline
--profile DIR` records them for the Faust processes.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def load(path: Path) -> tuple[Counter[str], Counter[str], int]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    return inclusive, own, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="", help="only frames containing this text")
    args = parser.parse_args()
    inclusive, own, samples = load(args.file)
    print(f"{samples} samples in {args.file}")
    for title, counts in (("inclusive", inclusive), ("self", own)):
        print(f"\n{title}:")
        shown = [(f, n) for f, n in counts.most_common() if args.match in f][: args.top]
        for frame, n in shown:
            print(f"{100 * n / samples:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
