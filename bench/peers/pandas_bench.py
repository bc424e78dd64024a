#!/usr/bin/python3
"""pandas_bench.py -- the pandas side of ember's benchmarks (Debian's python3-pandas).

Usage: /usr/bin/python3 pandas_bench.py REPS [WORDS_FILE]

Prints a "version X" line, then "name median_ms" lines with the same names as duckdb.mjs: group-by sum
of 1e7 numbers into 1e5 keys (generated and from a built frame), sort of 1e7
numbers, a filtered count over a built 1e7 column, and -- only when
WORDS_FILE is given -- word count of that file. pandas is single-threaded and
word count goes through Python string objects, so run.sh passes the corpus
only in quick mode (100 MB, tens of seconds) and times it once.
"""
import statistics
import sys
import time

import numpy as np
import pandas as pd

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
words = sys.argv[2] if len(sys.argv) > 2 else None
N = 10_000_000
print(f"version {pd.__version__} (numpy {np.__version__})", flush=True)


def time_it(name, fn, n=reps):
    ts = []
    for _ in range(n):
        t = time.perf_counter_ns()
        fn()
        ts.append((time.perf_counter_ns() - t) / 1e6)
    # median_low: one of the measured values, like the other peers' medians.
    print(f"{name} {statistics.median_low(ts):.3f}", flush=True)


def gen():
    # The same numbers ember's reduce_by_key benchmark makes: key (i*7919) % 100000, value i.
    i = np.arange(N, dtype=np.int64)
    return pd.DataFrame({"k": (i * 7919) % 100000, "v": i})


# "generated" includes making the numbers, as DuckDB's range() and ember's
# range() do; "table" starts from a frame already in memory.
time_it("groupby_gen", lambda: gen().groupby("k", sort=False)["v"].sum())
kv = gen()
time_it("groupby_table", lambda: kv.groupby("k", sort=False)["v"].sum())
time_it("sort", lambda: pd.Series((np.arange(N, dtype=np.int64) * 7919) % N).sort_values(ignore_index=True))
nums = pd.DataFrame({"x": np.arange(N, dtype=np.int64)})
time_it("filtercount", lambda: int((nums["x"] % 7 == 0).sum()), max(reps, 11))


def wordcount():
    # One string column of lines (a separator that never occurs, no quoting),
    # split on ' ', one row per word, count per word.
    lines = pd.read_csv(words, sep="\x01", header=None, names=["line"], dtype=str,
                        quoting=3, engine="c", na_filter=False)["line"]
    return lines.str.split(" ").explode().value_counts()


if words:
    time_it("wordcount", wordcount, 1)
