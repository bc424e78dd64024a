#!/usr/bin/python3
"""run_notebook.py NOTEBOOK [OUT.ipynb] -- executes share/examples/tour.ipynb
headless on the `ember` kernel with nbclient and checks its outputs, then
checks interrupting with jupyter_client (a notebook cannot interrupt itself).

JUPYTER_PATH must hold the ember kernelspec (tests/kernel/run.sh sets it).
Checks: results of the word count and the cache, show() as an HTML table
plus the text table, printf output as a stream, the error cell (tagged
raises-exception) giving TaskFailed with a traceback, cells after it still
working on the cached data, the progress bar of a longer job replaced by its
"[done]" summary (nbclient applies update_display_data in place), and an
interrupt cancelling an endless UDF and an endless cell within a second.
Exits 0 if every check held.
"""
import sys
import threading
import time

import nbformat
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient

failures = []


def check(cond, what):
    print("  %s %s" % ("ok  " if cond else "FAIL", what))
    if not cond:
        failures.append(what)


def find(nb, start):
    """The code cell whose source starts with `start`."""
    for c in nb.cells:
        if c.cell_type == "code" and c.source.startswith(start):
            return c
    raise KeyError(start)


def result(cell):
    for o in cell.outputs:
        if o.output_type == "execute_result":
            return o.data.get("text/plain")
    return None


def stdout(cell):
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def displays(cell):
    return [o for o in cell.outputs if o.output_type == "display_data"]


def check_notebook(path, out_path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="ember", timeout=120, allow_errors=False,
                            record_timing=True)
    t0 = time.monotonic()
    client.execute()
    print("notebook executed in %.1f s" % (time.monotonic() - t0))
    if out_path:
        nbformat.write(nb, out_path)

    check(result(find(nb, "ds lines")) == "4", "count(lines) is 4")
    show = find(nb, "show(sort_by(counts")
    d = displays(show)
    check(len(d) == 1, "show() gives one display_data")
    if d:
        html = d[0].data.get("text/html", "")
        text = d[0].data.get("text/plain", "")
        check("<table" in html and "<th>key</th><th>value</th>" in html, "show() has an HTML table")
        check('<td style="text-align: right;">the</td><td style="text-align: right;">4</td>' in html,
              "the HTML table's first row is ('the', 4)")
        check(html.count("<tr>") == 5 and "only showing top 5 rows" in html, "five rows, and more exist")
        check(text.splitlines()[3] == "|  the|    4|" and text.endswith("only showing top 5 rows"),
              "the text/plain table is Spark's")
    check(stdout(find(nb, "printf(")) == "10 distinct words\n", "printf output is a stdout stream")
    check(result(find(nb, "ds squares")) == "2000000", "count(squares) is 2000000")
    sums = [result(c) for c in nb.cells if c.cell_type == "code" and c.source == "sum(squares)"]
    check(len(sums) == 2 and sums[0] == sums[1] == "923000000", "sum(squares) before and after the error")
    ex = find(nb, "explain(squares)")
    check(any("CachedPartitions: 2" in o.data.get("text/plain", "") for o in displays(ex)),
          "explain() shows the cached partitions")
    bad = find(nb, "long bad")
    errs = [o for o in bad.outputs if o.output_type == "error"]
    check(len(errs) == 1 and errs[0].ename == "TaskFailed", "the error cell is a TaskFailed error")
    if errs:
        check(errs[0].traceback[0].startswith("TaskFailed: SIGFPE in UDF lambda at cell["),
              "its traceback starts with the class and message")
        check(any("100 / (x - 5)" in line for line in errs[0].traceback), "its traceback shows the cell line")
    slow = find(nb, "count(map(range(0, 16")
    check(result(slow) == "16", "the longer job's result")
    bars = displays(slow)
    check(len(bars) == 1 and bars[0].data["text/plain"].startswith("[done] count at cell["),
          "its progress bar ended as the [done] summary (%s)" % (bars[0].data["text/plain"] if bars else "none"))
    status = find(nb, ":status")
    check(any("executors" in o.data.get("text/plain", "") for o in displays(status)), ":status works")
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    check(counts == list(range(1, len(counts) + 1)), "execution counts run 1..%d" % len(counts))


def check_interrupt():
    km, kc = start_new_kernel(kernel_name="ember")
    try:
        cases = [
            ("an endless UDF", "count(map(range(4), [](long x) { while (x >= 0) x |= 1; return x; }))"),
            ("an endless cell", "long spin = 0;\nwhile (spin >= 0) spin |= 1;"),
        ]
        for what, code in cases:
            kc.execute_interactive("long warm = 1;", timeout=30)
            msg_id = kc.execute(code)
            time.sleep(1.0)
            t0 = time.monotonic()
            km.interrupt_kernel()
            reply = None
            while reply is None:
                msg = kc.get_shell_msg(timeout=10)
                if msg["parent_header"].get("msg_id") == msg_id:
                    reply = msg
            took = time.monotonic() - t0
            c = reply["content"]
            check(c["status"] == "error" and c["ename"] == "Cancelled",
                  "interrupting %s gives Cancelled (%s: %s)" % (what, c.get("ename"), c.get("evalue")))
            check(took < 1.0, "interrupting %s took %.2f s (< 1 s)" % (what, took))
            outputs = []
            kc.execute_interactive("6 * 7", output_hook=outputs.append, timeout=30)
            results = [o["content"]["data"]["text/plain"] for o in outputs if o["msg_type"] == "execute_result"]
            check(results == ["42"], "the kernel works after interrupting %s" % what)
    finally:
        kc.stop_channels()
        km.shutdown_kernel()


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "share/examples/tour.ipynb"
    out = sys.argv[2] if len(sys.argv) > 2 else None
    print("notebook %s" % path)
    check_notebook(path, out)
    print("interrupt")
    check_interrupt()
    if failures:
        print("run_notebook: %d FAILED" % len(failures))
        return 1
    print("run_notebook: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
