#!/usr/bin/python3
"""test_kernel.py -- the ember Jupyter kernel under jupyter_kernel_test, plus
ember's own protocol tests.

Run with Debian's /usr/bin/python3 (Jupyter's packages are Debian's), with
JUPYTER_PATH pointing at a directory holding the `ember` kernelspec
(tests/kernel/run.sh does both):

    JUPYTER_PATH=TMP/share/jupyter /usr/bin/python3 -m unittest -v test_kernel

EmberKernelTests  the standard conformance suite (jupyter_kernel_test.KernelTests):
                  stdout/stderr streams, execute_result, display_data, errors,
                  completion, inspection, is_complete, history, pager.
EmberProtocolTests what the suite does not cover: execution_count rules, silent
                  and store_history, stop_on_error aborting queued requests,
                  interrupt (message and SIGINT) within a second, crashes in
                  cells and UDFs, UDF output from executors, the live progress
                  bar, HTML tables, control-channel requests, restart and kill
                  leaving no executor processes behind.
"""
import os
import queue
import signal
import threading
import time
import unittest

import jupyter_kernel_test as jkt
from jupyter_client.manager import start_new_kernel

TIMEOUT = 30


class EmberKernelTests(jkt.KernelTests):
    kernel_name = "ember"
    language_name = "c"
    file_extension = ".c"

    code_hello_world = 'printf("hello, world\\n");'
    code_stderr = 'fprintf(stderr, "a warning\\n");'

    completion_samples = [
        {"text": "parall", "matches": {"parallelize"}},
        {"text": "reduce_by", "matches": {"reduce_by_key"}},
        {"text": "take_o", "matches": {"take_ordered"}},
        {"text": ":hel", "matches": {"help"}},
    ]

    complete_code_samples = [
        "1 + 2",
        "long x = 1;",
        "int twice(int a) { return 2 * a; }",
        "show(range(3))",
        "/* a comment */ 1",
        "char *s = \"{ not a brace\";",
    ]
    incomplete_code_samples = [
        "int twice(int a) {",
        "long y = (1 +",
        "printf(\"%d\\n\",",
        "/* an open comment",
        "map(range(3), [](long x) {\n  return x;",
    ]
    invalid_code_samples = ["}", "1 + 2)"]

    code_page_something = "range?"

    code_generate_error = "int *p = 0; *p = 1;"

    code_execute_result = [
        {"code": "1 + 2", "result": "3"},
        {"code": "sum(range(10))", "result": "45"},
        {"code": "collect(map(range(4), [](long x) { return x * x; }))", "result": "[0, 1, 4, 9]"},
        {"code": "\"abc\"", "result": "'abc'"},
        {"code": "kv(\"a\", 1)", "result": "('a', 1)"},
    ]

    code_display_data = [
        {"code": "show(range(3))", "mime": "text/html"},
        {"code": "show(range(3))", "mime": "text/plain"},
        {"code": "explain(range(3));", "mime": "text/plain"},
    ]

    code_history_pattern = "1 + *"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "parallelize"


# ---------------------------------------------------------------------------------
# ember's own protocol tests
# ---------------------------------------------------------------------------------


def executor_pids(kernel_pid):
    """Live (not zombie) executor processes started by the kernel kernel_pid."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % d) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"executor" in argv and b"--driver-pid" in argv:
            i = argv.index(b"--driver-pid")
            if argv[i + 1] == str(kernel_pid).encode() and state != "Z":
                pids.append(int(d))
    return pids


def wait_until(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


class Session:
    """A kernel and a client, with helpers that collect a request's output."""

    def __init__(self):
        self.km, self.kc = start_new_kernel(kernel_name="ember")

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel()

    @property
    def pid(self):
        return self.km.provisioner.process.pid

    def collect(self, msg_id, timeout=TIMEOUT):
        """iopub messages of msg_id between its busy and idle statuses."""
        out = []
        end = time.monotonic() + timeout
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, end - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status":
                if msg["content"]["execution_state"] == "idle":
                    return out
                continue
            out.append(msg)

    def reply(self, msg_id, timeout=TIMEOUT):
        end = time.monotonic() + timeout
        while True:
            msg = self.kc.get_shell_msg(timeout=max(0.1, end - time.monotonic()))
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def run(self, code, timeout=TIMEOUT, **kw):
        """(reply content, iopub messages) of one execute request."""
        msg_id = self.kc.execute(code, **kw)
        reply = self.reply(msg_id, timeout)
        return reply["content"], self.collect(msg_id, timeout)

    def flush(self):
        while True:
            try:
                self.kc.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                return


def of_type(msgs, t):
    return [m for m in msgs if m["msg_type"] == t]


def stdout_text(msgs):
    return "".join(m["content"]["text"] for m in of_type(msgs, "stream") if m["content"]["name"] == "stdout")


ENDLESS_UDF = "count(map(range(0, 4, 1, 4), [](long x) { while (x >= 0) { x = x | 1; } return x; }))"


class EmberProtocolTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Session()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def setUp(self):
        self.s.flush()

    def test_execution_count_rules(self):
        r1, m1 = self.s.run("1")
        n = r1["execution_count"]
        self.assertEqual(of_type(m1, "execute_input")[0]["content"]["execution_count"], n)
        self.assertEqual(of_type(m1, "execute_result")[0]["content"]["execution_count"], n)
        # silent: no count, no output at all, not even a stream
        r2, m2 = self.s.run('printf("quiet\\n"); 2', silent=True)
        self.assertEqual(r2["status"], "ok")
        self.assertEqual(r2["execution_count"], n)
        self.assertEqual(m2, [])
        # store_history=False: output, but no new count
        r3, m3 = self.s.run("3", store_history=False)
        self.assertEqual(r3["execution_count"], n)
        self.assertEqual(of_type(m3, "execute_result")[0]["content"]["data"]["text/plain"], "3")
        r4, _ = self.s.run("4")
        self.assertEqual(r4["execution_count"], n + 1)
        # failures count too
        r5, _ = self.s.run("undefined_thing + 1")
        self.assertEqual(r5["status"], "error")
        self.assertEqual(r5["execution_count"], n + 2)

    def test_cells_are_named_as_jupyter_numbers_them(self):
        # Meta commands, silent runs and store_history=False do not shift
        # the names in messages: In [n] is cell[n], also for the caret line.
        self.s.run(":status")
        self.s.run("long hidden = 1;", silent=True)
        self.s.run("5", store_history=False)
        r, _ = self.s.run("long z = 2;\nz + not_declared_anywhere")
        n = r["execution_count"]
        tb = "\n".join(r["traceback"])
        self.assertIn("cell[%d]:2" % n, tb)
        self.assertIn("z + not_declared_anywhere", tb)
        r, msgs = self.s.run("count(map(range(3), [](long x) { int *p = 0; return *p + x; }))")
        self.assertIn("lambda at cell[%d]:1" % r["execution_count"], r["evalue"])

    def test_error_reply_has_class_message_and_traceback(self):
        r, msgs = self.s.run("long q = 1;\nq + undefined_name")
        self.assertEqual(r["status"], "error")
        self.assertEqual(r["ename"], "CompileError")
        self.assertTrue(r["traceback"][0].startswith("CompileError: "))
        err = of_type(msgs, "error")
        self.assertEqual(len(err), 1)
        self.assertEqual(err[0]["content"]["ename"], "CompileError")
        self.assertIn("undefined_name", "\n".join(r["traceback"]))

    def test_stop_on_error_aborts_queued_requests(self):
        # The failing cell takes a moment, so the next two are queued behind it.
        slow_crash = "long w = 0; for (long i = 0; i < 200000000; i++) w += i;\nint *p = 0; *p = 1;"
        ids = [self.s.kc.execute(slow_crash), self.s.kc.execute("10"), self.s.kc.execute("11")]
        replies = [self.s.reply(i)["content"]["status"] for i in ids]
        self.assertEqual(replies, ["error", "aborted", "aborted"])
        # without stop_on_error the next request runs
        ids = [self.s.kc.execute(slow_crash, stop_on_error=False), self.s.kc.execute("12")]
        replies = [self.s.reply(i)["content"]["status"] for i in ids]
        self.assertEqual(replies, ["error", "ok"])
        # and afterwards everything works
        r, msgs = self.s.run("13")
        self.assertEqual(r["status"], "ok")

    def test_crashes_leave_the_session_intact(self):
        self.s.run("long keep = 41;")
        self.s.run("ds cached = cache(map(range(100), [](long x) { return x + 1; }));\ncount(cached)")
        for code in ["int *p = 0; *p = 1;", "abort();", "int z = 0; 1 / z"]:
            r, _ = self.s.run(code)
            self.assertEqual(r["status"], "error", code)
            self.assertEqual(r["ename"], "Crash", code)
        r, _ = self.s.run("count(map(range(8), [](long x) { int *p = 0; return *p + x; }))")
        self.assertEqual(r["status"], "error")
        self.assertEqual(r["ename"], "TaskFailed")
        r, msgs = self.s.run("keep + 1")
        self.assertEqual(of_type(msgs, "execute_result")[0]["content"]["data"]["text/plain"], "42")
        r, msgs = self.s.run("sum(cached)")
        self.assertEqual(of_type(msgs, "execute_result")[0]["content"]["data"]["text/plain"], "5050")

    def interrupt_after(self, delay, how):
        def go():
            time.sleep(delay)
            self.t_interrupt = time.monotonic()
            if how == "message":
                self.s.km.interrupt_kernel()
            else:
                os.kill(self.s.pid, signal.SIGINT)

        threading.Thread(target=go, daemon=True).start()

    def check_interrupt(self, code, how, max_latency=1.0):
        self.interrupt_after(0.7, how)
        r, msgs = self.s.run(code, timeout=20)
        latency = time.monotonic() - self.t_interrupt
        self.assertEqual(r["status"], "error")
        self.assertEqual(r["ename"], "Cancelled")
        self.assertLess(latency, max_latency, "interrupt took %.2f s" % latency)
        r, msgs = self.s.run("20 + 1")
        self.assertEqual(of_type(msgs, "execute_result")[0]["content"]["data"]["text/plain"], "21")

    def test_interrupt_message_cancels_an_endless_udf(self):
        self.check_interrupt(ENDLESS_UDF, "message")

    def test_interrupt_message_stops_an_endless_cell(self):
        self.check_interrupt("long spin = 0; while (spin >= 0) { spin = spin | 1; }", "message")

    def test_interrupt_during_display_output(self):
        # A cell that is almost always inside explain()'s display callback
        # (the kernel's iopub code) when the interrupt lands: it must unwind
        # after the callback, not out of it. Several rounds, then the
        # session still works and its output is whole.
        self.s.run("ds shown = map(range(10), [](long x) { return x + 1; });")
        for _ in range(3):
            self.s.flush()
            # (the latency includes reading the flood of output it made)
            self.check_interrupt("for (;;) explain(shown);", "message", max_latency=10.0)
        r, msgs = self.s.run("explain(shown)")
        self.assertEqual(r["status"], "ok")
        self.assertIn("ParallelCollectionRDD", "".join(str(m["content"]) for m in msgs))

    def test_sigint_interrupts_too(self):
        self.check_interrupt(ENDLESS_UDF, "signal")
        self.check_interrupt("long spin2 = 0; while (spin2 >= 0) { spin2 = spin2 | 1; }", "signal")

    def test_stdin_reads_as_empty(self):
        r, msgs = self.s.run("getchar()")
        self.assertEqual(of_type(msgs, "execute_result")[0]["content"]["data"]["text/plain"], "-1")

    def test_output_order_and_udf_output(self):
        r, msgs = self.s.run('printf("before\\n");\nshow(range(2));\nprintf("after\\n");')
        kinds = [(m["msg_type"], m["content"].get("text", "")) for m in msgs if m["msg_type"] != "execute_input"]
        self.assertEqual(len(kinds), 3, kinds)
        self.assertEqual(kinds[0], ("stream", "before\n"))
        self.assertEqual(kinds[1][0], "display_data")
        self.assertEqual(kinds[2], ("stream", "after\n"))
        r, msgs = self.s.run('foreach(range(0, 6, 1, 3), [](long x) { printf("udf %ld\\n", x); });')
        lines = sorted(stdout_text(msgs).splitlines())
        self.assertEqual(lines, ["udf %d" % i for i in range(6)])

    def test_invalid_utf8_output_is_mended(self):
        r, msgs = self.s.run('printf("bad \\xff byte\\n"); fflush(stdout);')
        self.assertEqual(r["status"], "ok")
        self.assertEqual(stdout_text(msgs), "bad \ufffd byte\n")

    def test_show_is_an_html_table(self):
        r, msgs = self.s.run('show(parallelize(list(kv("<a>", 1), kv("b", NONE), kv("c", 3))), 2)')
        d = of_type(msgs, "display_data")[0]["content"]["data"]
        self.assertEqual(
            d["text/plain"],
            "+---+-----+\n|key|value|\n+---+-----+\n|<a>|    1|\n|  b| null|\n+---+-----+\n"
            "only showing top 2 rows",
        )
        html = d["text/html"]
        self.assertIn("<table", html)
        self.assertIn("<th>key</th><th>value</th>", html)
        self.assertIn(">&lt;a&gt;</td>", html)
        self.assertIn(">null</td>", html)
        self.assertIn("only showing top 2 rows", html)

    def test_progress_bar_updates_in_place(self):
        code = (
            "count(map(range(0, 8, 1, 8), [](long x) { long s = 0;"
            " for (long i = 0; i < 150000000; i++) s += i ^ x; return s; }))"
        )
        r, msgs = self.s.run(code, timeout=120)
        self.assertEqual(r["status"], "ok")
        shown = of_type(msgs, "display_data")
        self.assertEqual(len(shown), 1, "one bar per job")
        did = shown[0]["content"]["transient"]["display_id"]
        self.assertIn("[Stage ", shown[0]["content"]["data"]["text/plain"])
        self.assertIn("<progress", shown[0]["content"]["data"]["text/html"])
        updates = of_type(msgs, "update_display_data")
        self.assertGreaterEqual(len(updates), 1)
        self.assertTrue(all(u["content"]["transient"]["display_id"] == did for u in updates))
        self.assertTrue(updates[-1]["content"]["data"]["text/plain"].startswith("[done] count at cell["))
        # throttled: at most about 5 updates a second
        t0 = shown[0]["header"]["date"]
        t1 = updates[-1]["header"]["date"]
        seconds = max((t1 - t0).total_seconds(), 0.2)
        self.assertLessEqual(len(updates), 5 * seconds + 3)
        # the result comes after the bar is done
        order = [m["msg_type"] for m in msgs]
        self.assertGreater(order.index("execute_result"), order.index("display_data"))
        # a quick job shows no bar
        r, msgs = self.s.run("count(range(10))")
        self.assertEqual(of_type(msgs, "display_data"), [])

    def test_control_channel_requests(self):
        kc = self.s.kc
        msg = kc.session.msg("kernel_info_request")
        kc.control_channel.send(msg)
        reply = kc.get_control_msg(timeout=5)
        self.assertEqual(reply["msg_type"], "kernel_info_reply")
        self.assertEqual(reply["content"]["language_info"]["name"], "c")
        kc.comm_info()
        reply = kc.get_shell_msg(timeout=5)
        self.assertEqual(reply["content"], {"status": "ok", "comms": {}})

    def test_meta_commands(self):
        r, msgs = self.s.run(":status")
        self.assertIn("executors", of_type(msgs, "display_data")[0]["content"]["data"]["text/plain"])
        # :help (and name?, IPython's spelling) is paged, as IPython pages `name?`
        r, msgs = self.s.run("%help count")
        self.assertEqual(r["payload"][0]["source"], "page")
        self.assertIn("count(ds) -> long", r["payload"][0]["data"]["text/plain"])
        r, msgs = self.s.run(":help")
        self.assertIn("reduce_by_key", r["payload"][0]["data"]["text/plain"])
        self.s.run("int thrice(int a) { return 3 * a; }")
        r, msgs = self.s.run("thrice?")
        self.assertIn("int thrice(int a)", r["payload"][0]["data"]["text/plain"])
        r, msgs = self.s.run(":time 1 + 1")
        self.assertIn("Time: ", stdout_text(msgs))


class EmberLifecycleTests(unittest.TestCase):
    def test_shutdown_restart_and_kill_leave_no_executors(self):
        s = Session()
        try:
            r, _ = s.run("count(range(100))")
            self.assertEqual(r["status"], "ok")
            pid = s.pid
            self.assertTrue(wait_until(lambda: len(executor_pids(pid)) > 0, 5))
            s.km.restart_kernel(now=False)
            self.assertTrue(wait_until(lambda: executor_pids(pid) == [], 5), "executors left after restart")
            s.kc.wait_for_ready(timeout=TIMEOUT)
            s.flush()
            r, msgs = s.run("count(range(7))")
            self.assertEqual(of_type(msgs, "execute_result")[0]["content"]["data"]["text/plain"], "7")
            pid = s.pid
            self.assertTrue(wait_until(lambda: len(executor_pids(pid)) > 0, 5))
            # a killed kernel takes its executors with it
            os.kill(pid, signal.SIGKILL)
            self.assertTrue(wait_until(lambda: executor_pids(pid) == [], 5), "executors outlived a killed kernel")
        finally:
            s.close()

    def test_shutdown_stops_a_running_job(self):
        s = Session()
        msg_id = s.kc.execute(ENDLESS_UDF)
        time.sleep(0.7)
        pid = s.pid
        t0 = time.monotonic()
        s.km.shutdown_kernel(now=False)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertTrue(wait_until(lambda: executor_pids(pid) == [], 5))
        s.kc.stop_channels()


if __name__ == "__main__":
    unittest.main(verbosity=2)
