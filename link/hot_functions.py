#!/usr/bin/env python3
"""Writes the linker's symbol order for mittari from callgrind profiles of its runs.

  hot_functions.py BINARY PROFILE... > link/order.txt

Each PROFILE is a callgrind output file written with `--demangle=no` (link/profile.sh makes
them). The functions that ran are listed by the profile in which they first appear, so what a
`convert` executes comes before what only `run` executes; within a profile, by the instructions
they executed themselves, most first. Only names the binary defines are kept (`nm`), so library
functions and the profiler's own do not reach the linker.

The file goes to lld as `--symbol-ordering-file` (build.rs): the code a run executes then sits on
a few pages together instead of spread over the whole 48 MB of the binary's text, which is what
a run's resident memory is mostly made of for a small conversion (README, "Memory and the
binary").
"""
import collections
import re
import subprocess
import sys

# `fn=(12) name` (or `cfn=(12) name`, a callee) names function 12 the first time it appears;
# later `fn=(12)` refers to it. Cost lines after `fn=` are its own instructions, except the one
# after `calls=`, which is what a call cost in all.
FN = re.compile(r"^(c?)fn=\((\d+)\)(?: (.*))?$")
# A cost line starts with its position: a number, `+N` or `-N` relative to the last one, or `*`
# for the same one.
COST = re.compile(r"^([+\-]?\d|\*)")


def self_costs(path):
    """Instructions each function executed itself (not in its callees), by name."""
    names, costs = {}, collections.Counter()
    current, after_call = None, False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = FN.match(line.rstrip("\n"))
            if m:
                callee, ident, name = m.groups()
                if name:
                    names[ident] = name
                if not callee:
                    current, after_call = names.get(ident), False
            elif line.startswith("calls="):
                after_call = True  # the next cost line is the call's inclusive cost
            elif COST.match(line) and current is not None:
                if after_call:
                    after_call = False
                else:
                    parts = line.split()
                    costs[current] += int(parts[1]) if len(parts) > 1 else 0
    # A function named only as a callee (`cfn=`) ran too, whatever its own cost: keep it.
    for name in names.values():
        costs.setdefault(name, 0)
    return costs


def defined_text_symbols(binary):
    out = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    return {parts[2] for parts in (line.split() for line in out.splitlines()) if len(parts) == 3 and parts[1] in "tTwW"}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    defined = defined_text_symbols(sys.argv[1])
    seen = set()
    for path in sys.argv[2:]:
        costs = self_costs(path)
        for name, _ in sorted(costs.items(), key=lambda kv: (-kv[1], kv[0])):
            if name in defined and name not in seen:
                seen.add(name)
                print(name)
    if not seen:
        sys.exit("hot_functions.py: no function of the profiles is defined in the binary (stripped, or another build?)")


if __name__ == "__main__":
    main()
