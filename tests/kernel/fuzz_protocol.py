#!/usr/bin/python3
"""fuzz_protocol.py [quick|all] -- the ember kernel against hostile wire input.

Starts the `ember` kernel (JUPYTER_PATH must hold its kernelspec), talks to it
over raw zmq sockets, and sends: bad, missing and foreign signatures, replays,
garbage and wrongly counted frames, signed but malformed JSON, unknown message
types, content fields of the wrong type or range, huge frames, heartbeat
garbage, and finally randomly mutated messages (half of them re-signed so the
parser sees them). After every group the kernel must still answer
kernel_info on shell and control and still run a cell; unsigned messages must
never be answered, and the kernel's log must say why it dropped them.
Exits 0 if everything held, 1 otherwise.
"""
import hashlib
import hmac
import json
import os
import random
import sys
import tempfile
import time
import uuid

import zmq
from jupyter_client.manager import KernelManager
from jupyter_client.session import Session

MODE = sys.argv[1] if len(sys.argv) > 1 else "quick"
RANDOM_ROUNDS = 3000 if MODE == "all" else 400
HUGE = 150 << 20 if MODE == "all" else 0  # over the kernel's 128 MiB frame limit
BIG = 20 << 20  # a valid message this large is served

failures = []


def check(cond, what):
    print("  %s %s" % ("ok  " if cond else "FAIL", what))
    if not cond:
        failures.append(what)


class Wire:
    def __init__(self, km):
        self.km = km
        info = km.get_connection_info()
        self.key = info["key"]
        if isinstance(self.key, str):
            self.key = self.key.encode()
        self.session = Session(key=self.key)
        self.ctx = zmq.Context()
        self.url = lambda port: "%s://%s:%d" % (info["transport"], info["ip"], info[port])
        self.info = info
        self.shell = self.dealer("shell_port")
        self.control = self.dealer("control_port")
        self.stdin = self.dealer("stdin_port")
        self.iopub = self.ctx.socket(zmq.SUB)
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.iopub.connect(self.url("iopub_port"))
        self.hb = self.ctx.socket(zmq.REQ)
        self.hb.setsockopt(zmq.LINGER, 0)
        self.hb.connect(self.url("hb_port"))

    def dealer(self, port):
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.IDENTITY, uuid.uuid4().hex.encode())
        s.connect(self.url(port))
        return s

    def reconnect(self):
        for name in ("shell", "control", "stdin"):
            getattr(self, name).close(0)
            setattr(self, name, self.dealer(name + "_port"))

    def frames(self, msg_type, content=None, key=None):
        msg = self.session.msg(msg_type, content=content or {})
        parts = self.session.serialize(msg)  # [<IDS|MSG>, sig, header, parent, metadata, content]
        if key is not None:
            parts[1] = self.sign(parts[2:6], key)
        return msg["header"]["msg_id"], parts

    def sign(self, parts, key=None):
        h = hmac.new(self.key if key is None else key, digestmod=hashlib.sha256)
        for p in parts:
            h.update(p)
        return h.hexdigest().encode()

    def recv(self, sock, timeout):
        if sock.poll(int(timeout * 1000)):
            parts = sock.recv_multipart()
            i = parts.index(b"<IDS|MSG>")
            return json.loads(parts[i + 2]), json.loads(parts[i + 3]), json.loads(parts[i + 5])
        return None

    def reply_to(self, sock, msg_id, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = self.recv(sock, end - time.monotonic())
            if r and r[1].get("msg_id") == msg_id:
                return r
        return None

    def silent(self, sock, timeout=0.3):
        """Nothing comes back on sock within timeout."""
        return self.recv(sock, timeout) is None

    def alive(self, what):
        ok = self.km.is_alive()
        for name in ("shell", "control"):
            sock = getattr(self, name)
            msg_id, parts = self.frames("kernel_info_request")
            sock.send_multipart(parts)
            r = self.reply_to(sock, msg_id, 10)
            ok = ok and r is not None and r[0]["msg_type"] == "kernel_info_reply"
        check(ok, "alive after %s" % what)
        return ok

    def execute(self, code, timeout=20):
        msg_id, parts = self.frames("execute_request", {"code": code, "silent": False, "store_history": True,
                                                        "user_expressions": {}, "allow_stdin": False,
                                                        "stop_on_error": False})
        self.shell.send_multipart(parts)
        return self.reply_to(self.shell, msg_id, timeout)


def main():
    tmp = tempfile.mkdtemp(prefix="ember-fuzz-")
    log_path = os.path.join(tmp, "kernel.log")
    log = open(log_path, "wb")
    km = KernelManager(kernel_name="ember")
    km.start_kernel(stderr=log)
    w = Wire(km)
    try:
        # wait until it answers at all
        end = time.monotonic() + 30
        while time.monotonic() < end:
            msg_id, parts = w.frames("kernel_info_request")
            w.shell.send_multipart(parts)
            if w.reply_to(w.shell, msg_id, 0.5):
                break
        else:
            check(False, "kernel started")
            return 1
        run_all(w)
    finally:
        km.shutdown_kernel(now=False)
        log.close()
    text = open(log_path, errors="replace").read()
    for reason in ("bad signature", "missing signature", "replayed signature", "no <IDS|MSG> delimiter",
                   "fewer than 5 frames", "malformed JSON", "too many frames"):
        check(reason in text, "the kernel logged '%s'" % reason)
    if failures:
        print("fuzz_protocol: %d FAILED:" % len(failures))
        for f in failures:
            print("  " + f)
        print("kernel log (last lines):")
        print("\n".join(text.splitlines()[-20:]))
        return 1
    print("fuzz_protocol: all held")
    return 0


def run_all(w):
    print("signatures")
    for name, sock in (("shell", w.shell), ("control", w.control)):
        msg_id, parts = w.frames("kernel_info_request")
        bad = bytearray(parts[1])
        bad[5] = ord("0") if bad[5] != ord("0") else ord("1")
        cases = {
            "bad": parts[:1] + [bytes(bad)] + parts[2:],
            "missing": parts[:1] + [b""] + parts[2:],
            "uppercase": parts[:1] + [parts[1].upper()] + parts[2:],
            "foreign key": w.frames("kernel_info_request", key=b"not-the-key")[1],
            "other content": parts[:1] + [parts[1]] + parts[2:5] + [b'{"x": 1}'],
        }
        for what, frames in cases.items():
            sock.send_multipart(frames)
            check(w.silent(sock), "%s signature on %s: no reply" % (what, name))
    w.alive("bad signatures")

    print("a signed execute with a bad signature never runs")
    msg_id, parts = w.frames("execute_request", {"code": 'printf("SHOULD NOT RUN\\n");', "silent": False})
    parts[1] = parts[1][:-1] + (b"0" if parts[1][-1:] != b"0" else b"1")
    w.shell.send_multipart(parts)
    ran = False
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        if w.iopub.poll(100):
            if b"SHOULD NOT RUN" in b"".join(w.iopub.recv_multipart()):
                ran = True
    check(not ran, "forged execute did not run")

    print("replay")
    msg_id, parts = w.frames("kernel_info_request")
    w.shell.send_multipart(parts)
    first = w.reply_to(w.shell, msg_id, 5)
    w.shell.send_multipart(parts)
    check(first is not None and w.silent(w.shell, 0.5), "a replayed message is answered once")

    print("frames")
    msg_id, parts = w.frames("kernel_info_request")
    garbage = [
        [b"\x00\xff garbage"],
        [b""],
        [b"<IDS|MSG>"],
        parts[1:],                      # no delimiter
        parts[:3],                      # delimiter, signature, header only
        parts[:5],                      # one frame short
        [os.urandom(random.randint(0, 300)) for _ in range(10)],
        [b"x"] * 100,                   # too many frames
        parts + [b"buffer"] * 70,       # signed, but too many frames
    ]
    for i, frames in enumerate(garbage):
        for sock in (w.shell, w.control, w.stdin):
            sock.send_multipart(frames)
    check(w.silent(w.shell) and w.silent(w.control), "garbage frames: no reply")
    w.alive("garbage frames")

    print("signed, malformed JSON")
    base = w.frames("kernel_info_request")[1]
    for part, text in ((2, b"{"), (2, b"[]"), (2, b"null"), (3, b"[1]"), (4, b"\"s\""), (5, b"{\"a\": }"),
                       (2, b'{"msg_id": "1"}'), (2, b'{"msg_type": 5, "msg_id": "1"}'),
                       (5, b'{"code": "\\u0000"}'), (5, b'{"code": "\xff\xfe"}'), (2, b"\xef\xbb\xbf{}")):
        frames = list(base)
        frames[part] = text
        frames[1] = w.sign(frames[2:6])
        w.shell.send_multipart(frames)
        w.control.send_multipart(frames)
    check(w.silent(w.shell) and w.silent(w.control), "malformed JSON: no reply")
    w.alive("malformed JSON")

    print("unknown and odd requests")
    msg_id, parts = w.frames("bogus_request", {"x": 1})
    w.shell.send_multipart(parts)
    check(w.silent(w.shell), "unknown msg_type: no reply")
    odd = [
        ("complete_request", {"code": "ran", "cursor_pos": "x"}),
        ("complete_request", {"code": "ran", "cursor_pos": -3}),
        ("complete_request", {"code": "ran", "cursor_pos": 10 ** 15}),
        ("complete_request", {"code": "€€ ran", "cursor_pos": 6}),
        ("inspect_request", {"code": None, "cursor_pos": 2}),
        ("inspect_request", {"code": "x" * 100000, "cursor_pos": 50000}),
        ("is_complete_request", {"code": ["not", "a", "string"]}),
        ("is_complete_request", {"code": "(" * 100000}),
        ("history_request", {"hist_access_type": "tail", "n": -1, "output": "yes", "raw": True}),
        ("history_request", {"hist_access_type": "search", "pattern": "[", "n": 10 ** 12}),
        ("history_request", {"hist_access_type": "range", "session": -5, "start": "a"}),
        ("history_request", {"hist_access_type": 7}),
        ("comm_info_request", {"target_name": 5}),
        ("comm_open", {"comm_id": "c1", "target_name": "nothing", "data": {}}),
        ("comm_msg", {"comm_id": "c1", "data": {"x": [1, 2]}}),
        ("kernel_info_request", {"unexpected": [1, {"a": None}]}),
    ]
    for msg_type, content in odd:
        msg_id, parts = w.frames(msg_type, content)
        w.shell.send_multipart(parts)
        if msg_type.endswith("_request"):
            r = w.reply_to(w.shell, msg_id, 5)
            check(r is not None and r[2].get("status") in ("ok", "complete", "incomplete", "invalid"),
                  "%s %s answered" % (msg_type, json.dumps(content)[:50]))
    for code in (5, None, ["x"]):
        msg_id, parts = w.frames("execute_request", {"code": code, "silent": "yes", "stop_on_error": "no"})
        w.shell.send_multipart(parts)
        r = w.reply_to(w.shell, msg_id, 10)
        check(r is not None, "execute_request with code=%r answered" % (code,))
    w.alive("odd requests")

    print("huge frames")
    msg_id, parts = w.frames("kernel_info_request")
    meta = json.dumps({"pad": "x" * BIG}).encode()
    parts[4] = meta
    parts[1] = w.sign(parts[2:6])
    w.shell.send_multipart(parts)
    check(w.reply_to(w.shell, msg_id, 20) is not None, "a signed 20 MB message is served")
    w.shell.send_multipart([b"<IDS|MSG>", b"", os.urandom(1 << 20)] + [b"y" * (4 << 20)] * 3)
    check(w.silent(w.shell), "unsigned large frames: no reply")
    if HUGE:
        w.shell.send_multipart([b"<IDS|MSG>", b"", b"z" * HUGE])
        time.sleep(1)
        w.reconnect()
    w.alive("huge frames")

    print("heartbeat")
    ok = True
    for payload in ([b"ping"], [b""], [os.urandom(1000)], [b"a", b"b", b"c"]):
        w.hb.send_multipart(payload)
        if not w.hb.poll(5000):
            ok = False
            break
        ok = ok and w.hb.recv_multipart() == payload
    check(ok, "heartbeat echoes what it gets")

    print("random mutations (%d)" % RANDOM_ROUNDS)
    rng = random.Random(20240611)
    samples = [
        ("kernel_info_request", {}),
        ("complete_request", {"code": "long k = 1; ra", "cursor_pos": 14}),
        ("inspect_request", {"code": "count(range(3))", "cursor_pos": 3, "detail_level": 0}),
        ("is_complete_request", {"code": "int f() {\n return 1;"}),
        ("history_request", {"hist_access_type": "tail", "n": 5, "output": True, "raw": True}),
        ("comm_info_request", {}),
        ("bogus_request", {"k": [1, 2, 3]}),
    ]
    socks = [w.shell, w.control, w.stdin]
    for i in range(RANDOM_ROUNDS):
        msg_type, content = rng.choice(samples)
        frames = list(w.frames(msg_type, content)[1])
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(6)
            j = rng.randrange(len(frames))
            f = bytearray(frames[j])
            if op == 0 and f:  # flip bytes
                for _ in range(rng.randint(1, 5)):
                    k = rng.randrange(len(f))
                    f[k] = rng.randrange(256)
                frames[j] = bytes(f)
            elif op == 1:  # truncate
                frames[j] = bytes(f[: rng.randrange(len(f) + 1)])
            elif op == 2 and len(frames) > 1:  # drop a frame
                del frames[j]
            elif op == 3:  # duplicate a frame
                frames.insert(j, frames[j])
            elif op == 4:  # insert random bytes
                frames.insert(j, os.urandom(rng.randint(0, 64)))
            else:  # splice JSON punctuation
                k = rng.randrange(len(f) + 1)
                frames[j] = bytes(f[:k]) + rng.choice([b"{", b"}", b"[", b'"', b"\\", b",", b":", b"\xff"]) + bytes(f[k:])
        if rng.random() < 0.5 and b"<IDS|MSG>" in frames:
            d = frames.index(b"<IDS|MSG>")
            if len(frames) >= d + 6:
                frames[d + 1] = w.sign(frames[d + 2:d + 6])
        rng.choice(socks).send_multipart(frames)
        if i % 100 == 99:
            # drain replies to mutated-but-valid requests, then check
            while w.recv(w.shell, 0.05) or w.recv(w.control, 0.05):
                pass
            if not w.alive("random round %d" % (i + 1)):
                return
    while w.recv(w.shell, 0.1) or w.recv(w.control, 0.1):
        pass

    print("still a working kernel")
    r = w.execute("long after_fuzz = 6 * 7;\nafter_fuzz")
    check(r is not None and r[2].get("status") == "ok", "a cell runs after the fuzzing")
    w.alive("everything")


if __name__ == "__main__":
    sys.exit(main())
