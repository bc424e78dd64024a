#!/bin/bash
# run.sh BUILD [quick|all] -- the standalone cluster on separate "hosts":
# network namespaces joined by a bridge (netns.sh), a master, three workers
# and sessions each in a namespace of its own with its own address, all
# sharing one secret. Checks results against local[2] with workers killed
# (SIGKILL) and links cut mid-job, the security model (secret, listening
# addresses), :status, and master and worker restarts. "all" runs the
# 20-kill acceptance loop instead of 3 kills, and the Slurm test.
#
# Needs root (namespaces); prints SKIP and succeeds without it. Sessions and
# commands run under `timeout`, daemons until the end, a watchdog bounds the
# whole run, and an EXIT trap kills what we started and deletes the
# namespaces even when a test fails. CLUSTER_TESTS="cut kill" runs some
# tests only; CLUSTER_KEEP=DIR keeps the logs.
# Each test runs in a subshell with `set -e`, so its first failing check
# ends it; state shared between tests (pids) lives in files.
set -eu
build=$(cd "${1:?usage: run.sh BUILD [quick|all]}" && pwd)
mode=${2:-quick}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/netns.sh"

# The Kubernetes example is only checked for well-formed YAML (it needs a
# Kubernetes cluster and an image to run), where PyYAML is installed.
if /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
  /usr/bin/python3 - "$here/../../share/k8s/ember-cluster.yaml" <<'PY' || { echo "cluster tests: share/k8s/ember-cluster.yaml is not valid" >&2; exit 1; }
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = sorted(d["kind"] for d in docs)
assert kinds == ["Deployment", "Deployment", "Deployment", "Secret", "Service"], kinds
assert all(d.get("apiVersion") and d.get("metadata", {}).get("name") for d in docs)
PY
fi

if why=$(nx_unavailable); then
  echo "SKIP cluster tests: $why"
  exit 0
fi
if [ ! -x "$build/ember" ]; then
  echo "cluster tests: no $build/ember (build it first)" >&2
  exit 1
fi

case $mode in
  quick) limit=420 kills=3 ;;
  all) limit=3000 kills=20 ;;
  *) echo "usage: run.sh BUILD [quick|all]" >&2; exit 2 ;;
esac

# The whole run is bounded: the watchdog's TERM stops the running test and
# runs the EXIT trap.
watchdog=""
current_test=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$watchdog" ]; then kill "$watchdog" 2>/dev/null || true; fi
  if [ -n "$current_test" ]; then kill "$current_test" 2>/dev/null || true; fi
  # CLUSTER_KEEP=DIR keeps the logs and outputs for a post-mortem.
  if [ -n "${CLUSTER_KEEP:-}" ] && [ -n "$NX_TMP" ]; then
    rm -rf "$CLUSTER_KEEP"
    cp -r "$NX_TMP" "$CLUSTER_KEEP" 2>/dev/null || true
  fi
  nx_cleanup
  exit $rc
}
trap cleanup EXIT
trap 'echo "cluster tests: interrupted" >&2; exit 130' INT
trap 'echo "cluster tests: stopped (over the ${limit} s limit?)" >&2; exit 143' TERM
# The watchdog holds no output open (a pipe reading ours would wait for
# it), and takes its sleep with it when it is stopped.
(
  exec >/dev/null 2>&1 </dev/null
  sleep "$limit" &
  sleeper=$!
  trap 'kill $sleeper; exit 0' TERM
  wait $sleeper
  kill -TERM $$
) &
watchdog=$!

export EMBER_SECRET="ember-test-$$-$RANDOM$RANDOM"
unset EMBER_SECRET_FILE EMBER_MASTER EMBER_CORES_MAX EMBER_DRIVER_HOST 2>/dev/null || true

net=$NX_NET
master_ip=$net.1
session_ip=$net.20
url="ember://$master_ip:7077"
nx_setup
T=$NX_TMP
# Our own copy of the binary: a rebuild during the run must not pull it
# from under the workers (they start executors from their own binary).
cp "$build/ember" "$T/ember"
bin="$T/ember"
nx_add_node m "$master_ip"
for i in 1 2 3; do nx_add_node "w$i" "$net.1$i"; done
nx_add_node s "$session_ip"

# ---- helpers -------------------------------------------------------------

# Prints a failure and ends the test (the subshell).
fail() {
  echo "  FAIL: $*" >&2
  exit 1
}

note() {
  echo "  $*"
}

# ms_between T0 T1: milliseconds from T0 to T1 (seconds.millis, nx_now).
ms_between() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'
}

start_master() {
  nx_spawn m "$T/master.log" "$bin" master --host "$master_ip" >"$T/master.pid"
}

# start_worker I: worker I in namespace wI, one core each, so that a
# session's three executors take the whole cluster and a replacement can
# only go to a worker that joins.
start_worker() {
  local i=$1
  nx_spawn "w$i" "$T/w$i.log" "$bin" worker "$url" --host "$net.1$i" --cores 1 --memory 2g \
    --work-dir "$T/work-w$i" >"$T/w$i.pid"
}

# Is process $1 running? (Not a zombie: a daemon started by a test's
# subshell belongs to init once it exits, which may reap it late.)
pid_alive() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  case $st in Z*) return 1 ;; esac
}

cluster_status() {
  nx_exec s timeout -k 2 10 "$bin" status "$url" 2>&1 || true
}

# wait_workers N SECONDS: until the master lists N alive workers.
wait_workers() {
  local n=$1 deadline=$(($(date +%s) + $2))
  while [ "$(cluster_status | grep -c ' alive ')" != "$n" ]; do
    [ "$(date +%s)" -lt $deadline ] || return 1
    sleep 0.25
  done
}

# A healthy cluster before each test: links up, master and three workers
# running and registered.
ensure_cluster() {
  local i
  for i in 1 2 3; do nx_link_up "w$i"; done
  if ! pid_alive "$(cat "$T/master.pid" 2>/dev/null || echo 0)"; then start_master; fi
  for i in 1 2 3; do
    if ! pid_alive "$(cat "$T/w$i.pid" 2>/dev/null || echo 0)"; then start_worker "$i"; fi
  done
  wait_workers 3 30 || { cluster_status >&2; fail "the cluster did not come up"; }
}

# session SCRIPT OUT ERR [ENV=V...]: runs a script in the session namespace.
session() {
  local script=$1 out=$2 err=$3
  shift 3
  nx_exec s env "$@" timeout -k 5 120 "$bin" --master "$url" "$script" >"$out" 2>"$err"
}

# The scripts. Word count of a generated text (Zipf-like, 2,000 words, in
# the shared temporary directory every namespace sees) and the 1e7-row
# reduce_by_key; job.c is both and a longer shuffle, the job that workers
# are killed under.
make_scripts() {
  awk 'BEGIN { srand(7); for (i = 0; i < 1000000; i++) { n = 1 + int(rand() * 12); l = "";
         for (j = 0; j < n; j++) l = l (j ? " " : "") "w" int(2000 * rand() * rand());
         print l } }' >"$T/words.txt"
  cat >"$T/wc.c" <<EOF
ds lines = text_file("$T/words.txt");
ds counts = reduce_by_key(map(flat_map(lines, [](str l) { return split(l, " "); }), [](str w) { return kv(w, 1); }), add);
count(counts)
sum(values(counts))
collect(sort_by_key(counts))
EOF
  cat >"$T/rbk.c" <<'EOF'
ds r = reduce_by_key(map(range(10000000), [](long i) { return kv(i % 100000, i); }), add);
count(r)
sum(values(r))
EOF
  # A third, longer shuffle keeps the job running past the latest kill
  # (1.5 s) on a fast machine.
  cat "$T/rbk.c" "$T/wc.c" - >"$T/job.c" <<'EOF'
ds r3 = reduce_by_key(map(range(30000000), [](long i) { return kv(i % 1000003, i % 7); }), add);
count(r3)
sum(values(r3))
EOF
  # wait_for(PATH): a cell that blocks (the session idle, no job running)
  # until the test creates PATH.
  cat >"$T/pause.h" <<'EOF'
#include <unistd.h>
void wait_for(const char *p) { for (int i = 0; i < 2400 && access(p, 0) != 0; i++) usleep(50000); }
EOF
}

# The executors' pids in a :status output (the lines of alive ones).
status_pids() {
  awk '$1 == "executor" && $3 == "alive" { print $5 }' "$1" | sort -n | tr '\n' ' '
}

# ---- tests ---------------------------------------------------------------

# a. Word count and the 1e7-row reduce_by_key on the 3-worker cluster give
# the same output as local[2] (job.c, both, times the job the kill test
# runs, without a kill).
test_results() {
  local f t0 t1
  for f in wc rbk job; do
    t0=$(nx_now)
    session "$T/$f.c" "$T/$f.cl.out" "$T/$f.cl.err" || { cat "$T/$f.cl.err" >&2; fail "$f on the cluster failed"; }
    t1=$(nx_now)
    cmp -s "$T/$f.local.out" "$T/$f.cl.out" || { diff "$T/$f.local.out" "$T/$f.cl.out" | head -5 >&2; fail "$f: cluster output differs from local[2]"; }
    note "$f: same as local[2]; cluster $(ms_between "$t0" "$t1") ms, local[2] $(cat "$T/$f.local.ms") ms"
    echo "$f $(ms_between "$t0" "$t1")" >>"$T/times"
  done
  head -2 "$T/rbk.cl.out" | tr '\n' ' ' | sed 's/^/  rbk: count, sum = /'
  echo
}

# e. `:status` in a REPL attached to the cluster lists the three workers
# with this session's executors.
test_status() {
  # The first job may start on the first executor up; the others register
  # within a second or two.
  printf '#include <unistd.h>\ncount(range(100))\nsleep(2);\n:status\n' | nx_exec s timeout -k 5 60 "$bin" --master "$url" >"$T/status.out" 2>&1 ||
    { cat "$T/status.out" >&2; fail "the REPL failed"; }
  grep -q '^cluster workers: 3$' "$T/status.out" || { cat "$T/status.out" >&2; fail "no 'cluster workers: 3'"; }
  local n
  n=$(grep -cE '^  worker [0-9]+ +10\.77\.0\.1[123] +alive .*executors: [0-9]+\(session [0-9]+\)' "$T/status.out" || true)
  [ "$n" = 3 ] || { cat "$T/status.out" >&2; fail "expected 3 workers each listing an executor, got $n"; }
  grep -q '^executors: 3 alive$' "$T/status.out" || { cat "$T/status.out" >&2; fail "expected 3 alive executors"; }
  sed -n '/^cluster workers/,/^cached/p' "$T/status.out" | grep -v '^cached' | sed 's/^/  | /'
}

# d. Security: the secret is required (none: AuthError; a wrong one: no
# answer, and the master logs the refusal), a worker with a wrong secret is
# refused, and nothing listens beyond the addresses asked for.
test_security() {
  local rc=0 t0 t1
  # No secret at all: refused before anything is sent.
  nx_exec s env -u EMBER_SECRET timeout -k 5 30 "$bin" --master "$url" -e 'count(range(10))' \
    >"$T/nosecret.out" 2>"$T/nosecret.err" || rc=$?
  [ $rc != 0 ] || fail "a session without the secret ran"
  grep -q AuthError "$T/nosecret.err" || { cat "$T/nosecret.err" >&2; fail "no AuthError without the secret"; }
  note "no secret: $(head -1 "$T/nosecret.err")"
  # A wrong secret: the master cannot decrypt the handshake; no answer.
  local before
  before=$(grep -c 'refused a connection' "$T/master.log" || true)
  rc=0
  t0=$(nx_now)
  nx_exec s env EMBER_SECRET=wrong-secret timeout -k 5 40 "$bin" --master "$url" -e 'count(range(10))' \
    >"$T/wrong.out" 2>"$T/wrong.err" || rc=$?
  t1=$(nx_now)
  [ $rc != 0 ] || fail "a session with a wrong secret ran"
  [ ! -s "$T/wrong.out" ] || fail "a session with a wrong secret printed a result"
  grep -q 'no answer from the master' "$T/wrong.err" || { cat "$T/wrong.err" >&2; fail "wrong secret: unexpected error"; }
  note "wrong secret: refused after $(ms_between "$t0" "$t1") ms: $(head -1 "$T/wrong.err" | cut -c1-90)..."
  [ "$(grep -c 'refused a connection' "$T/master.log" || true)" -gt "$before" ] || fail "the master did not log the refusal"
  note "master log: $(grep 'refused a connection' "$T/master.log" | tail -1)"
  # A worker without a secret does not start; one with a wrong secret
  # never joins.
  rc=0
  nx_exec w3 env -u EMBER_SECRET timeout 10 "$bin" worker "$url" --host "$net.13" >"$T/nosecret-w.err" 2>&1 || rc=$?
  [ $rc != 0 ] && grep -q AuthError "$T/nosecret-w.err" || { cat "$T/nosecret-w.err" >&2; fail "a worker without the secret started"; }
  note "worker without a secret: $(head -1 "$T/nosecret-w.err" | cut -c1-70)..."
  before=$(grep -c 'refused a connection' "$T/master.log" || true)
  local bad
  bad=$(nx_spawn w3 "$T/badworker.log" env EMBER_SECRET=wrong-secret "$bin" worker "$url" --host "$net.13" \
    --cores 1 --memory 1g --work-dir "$T/work-bad")
  sleep 3
  kill -9 "$bad" 2>/dev/null || true
  cluster_status >"$T/status-bad.txt"
  grep -q '3 workers' "$T/status-bad.txt" || { cat "$T/status-bad.txt" >&2; fail "a worker with a wrong secret was let in"; }
  [ "$(grep -c 'refused a connection' "$T/master.log" || true)" -gt "$before" ] ||
    fail "the master did not log the refused worker"
  note "worker with a wrong secret: refused, master still lists 3 workers"
  # A junk TCP client (no ZeroMQ, no CURVE) is dropped.
  nx_exec s timeout 5 bash -c "exec 3<>/dev/tcp/$master_ip/7077; printf 'GET / HTTP/1.0\r\n\r\n' >&3; cat <&3 >/dev/null" 2>/dev/null || true
  # Listening sockets. The master was asked for $master_ip only.
  nx_exec m ss -ltnH >"$T/ss-m.txt"
  [ "$(awk '{ print $4 }' "$T/ss-m.txt")" = "$master_ip:7077" ] || { cat "$T/ss-m.txt" >&2; fail "master listens on more than $master_ip:7077"; }
  note "master --host $master_ip: $(awk '{ print $4 }' "$T/ss-m.txt")"
  # A master without --host: loopback only.
  local lo
  lo=$(nx_spawn s "$T/lomaster.log" "$bin" master --port 7099)
  sleep 0.5
  nx_exec s ss -ltnH >"$T/ss-lo.txt"
  kill "$lo" 2>/dev/null || true
  while pid_alive "$lo"; do sleep 0.05; done
  [ "$(awk '{ print $4 }' "$T/ss-lo.txt")" = "127.0.0.1:7099" ] ||
    { cat "$T/ss-lo.txt" "$T/lomaster.log" >&2; fail "a master without --host is not on 127.0.0.1:7099 alone"; }
  note "master without --host: $(awk '{ print $4 }' "$T/ss-lo.txt")"
  # A live session: the driver listens on the session's address, each
  # executor's block server on its worker's --host address, nothing else.
  cat "$T/pause.h" >"$T/sec.c"
  printf 'count(range(1000))\nwait_for("%s/sec.go");\n' "$T" >>"$T/sec.c"
  rm -f "$T/sec.go"
  nx_exec s timeout -k 5 60 "$bin" --master "$url" "$T/sec.c" >"$T/sec.out" 2>"$T/sec.err" &
  local spid=$!
  nx_wait_file "$T/sec.out" '^1000$' 30 >/dev/null || { touch "$T/sec.go"; fail "session did not run"; }
  nx_exec s ss -ltnH >"$T/ss-s.txt"
  # Every executor listens once it has started (the first job may have run
  # before all of them had).
  for i in 1 2 3; do
    for _ in $(seq 1 40); do
      nx_exec "w$i" ss -ltnH >"$T/ss-w$i.txt"
      [ -s "$T/ss-w$i.txt" ] && break
      sleep 0.25
    done
  done
  touch "$T/sec.go"
  wait $spid || fail "the session failed"
  [ -s "$T/ss-s.txt" ] || fail "the driver does not listen"
  [ -z "$(awk '{ print $4 }' "$T/ss-s.txt" | grep -v "^$session_ip:")" ] || { cat "$T/ss-s.txt" >&2; fail "the driver listens beyond $session_ip"; }
  note "driver: $(awk '{ print $4 }' "$T/ss-s.txt" | tr '\n' ' ')"
  for i in 1 2 3; do
    [ -s "$T/ss-w$i.txt" ] || fail "no executor listens on worker $i"
    [ -z "$(awk '{ print $4 }' "$T/ss-w$i.txt" | grep -v "^$net.1$i:")" ] || { cat "$T/ss-w$i.txt" >&2; fail "worker $i: a socket beyond $net.1$i"; }
    note "worker $i executors: $(awk '{ print $4 }' "$T/ss-w$i.txt" | tr '\n' ' ')"
  done
}

# b. A random worker SIGKILLed 0.3-1.5 s into the job: same results. The
# detection time is from the kill to the session's ExecutorLost warning.
test_kill() {
  local k w delay t0 tk tdet t1 rc det
  for k in $(seq 1 "$kills"); do
    ensure_cluster
    w=$((RANDOM % 3 + 1))
    delay=$((300 + RANDOM % 1201))
    t0=$(nx_now)
    session "$T/job.c" "$T/kill.out" "$T/kill.err" &
    local spid=$!
    sleep "$(awk -v d=$delay 'BEGIN { print d / 1000 }')"
    tk=$(nx_now)
    kill -9 "$(cat "$T/w$w.pid")"
    detect_poll "$T/kill.err" "$tk" "$T/kill.det" &
    local poller=$!
    rc=0
    wait $spid || rc=$?
    t1=$(nx_now)
    stop_poller $poller
    [ $rc = 0 ] || { cat "$T/kill.err" >&2; fail "kill $k (worker $w after $delay ms): the job failed"; }
    cmp -s "$T/job.local.out" "$T/kill.out" || fail "kill $k (worker $w after $delay ms): results differ from local[2]"
    # The warning's time comes from the poller started at the kill (the
    # file's mtime would be that of its last line).
    det="none"
    if grep -q ExecutorLost "$T/kill.err"; then det=$(cat "$T/kill.det" 2>/dev/null || echo "?"); fi
    note "kill $k: worker $w after $delay ms; job $(ms_between "$t0" "$t1") ms; ExecutorLost after ${det} ms"
    echo "$k $w $delay $(ms_between "$t0" "$t1") $det" >>"$T/kills"
  done
}

# Polls ERR for ExecutorLost from time TK; writes the delay in ms to OUT.
detect_poll() {
  local err=$1 tk=$2 out=$3 t
  rm -f "$out"
  t=$(nx_wait_file "$err" ExecutorLost 60) || return 0
  ms_between "$tk" "$t" >"$out"
}

# Ends a poller once the job is over (after a last look at the file).
stop_poller() {
  sleep 0.1
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# c. A worker's link cut mid-job: same result, the loss detected within
# seconds; with the link back, the worker registers again and the cut-off
# executor is stopped.
test_cut() {
  local w=2 t0 tc t1 rc det
  t0=$(nx_now)
  session "$T/job.c" "$T/cut.out" "$T/cut.err" &
  local spid=$!
  sleep 1.2
  tc=$(nx_now)
  nx_link_down "w$w"
  detect_poll "$T/cut.err" "$tc" "$T/cut.det" &
  local poller=$!
  rc=0
  wait $spid || rc=$?
  t1=$(nx_now)
  stop_poller $poller
  [ $rc = 0 ] || { cat "$T/cut.err" >&2; nx_link_up "w$w"; fail "the job failed with worker $w cut off"; }
  cmp -s "$T/job.local.out" "$T/cut.out" || { nx_link_up "w$w"; fail "results differ with worker $w cut off"; }
  det=$(cat "$T/cut.det" 2>/dev/null || echo none)
  note "worker $w cut $(ms_between "$t0" "$tc") ms into the job: job $(ms_between "$t0" "$t1") ms, ExecutorLost after $det ms"
  grep ExecutorLost "$T/cut.err" | head -2 | sed 's/^/  | /'
  [ "$det" != none ] && [ "$det" -lt 10000 ] || fail "the cut was not detected within 10 s"
  echo "cut $det $(ms_between "$t0" "$t1")" >>"$T/times"
  nx_link_up "w$w"
  wait_workers 3 20 || { cluster_status >&2; fail "worker $w did not come back after the link came up"; }
  # Its executor for the ended session is stopped: only the worker is left.
  local n=0 i
  for i in $(seq 1 40); do
    n=$(ip netns pids "$(nx_ns "w$w")" | wc -l)
    [ "$n" -gt 1 ] || break
    sleep 0.25
  done
  [ "$n" = 1 ] || fail "worker $w's namespace still has $n processes after the link came back"
  note "link up: worker $w registered again, its stale executor stopped"
}

# f. A master restart (SIGKILL) while a session with cached data is idle:
# the same session then runs a job with the same executor processes, on
# the cached data (the accumulator in the cached map does not move). Then
# a restart (SIGTERM) in the middle of a job.
test_master_restart() {
  cat "$T/pause.h" >"$T/mr.c"
  cat >>"$T/mr.c" <<EOF
val acc = accumulator(0);
ds c = cache(map(range(3000000), [acc](long i) { acc_add(acc, 1); return i * 2; }));
count(c)
acc_value(acc)
:status
wait_for("$T/mr.go");
count(c)
acc_value(acc)
sum(c)
:status
EOF
  rm -f "$T/mr.go"
  nx_exec s timeout -k 5 120 "$bin" --master "$url" "$T/mr.c" >"$T/mr.out" 2>"$T/mr.err" &
  local spid=$!
  nx_wait_file "$T/mr.out" '^running job' 60 >/dev/null || { touch "$T/mr.go"; fail "the session did not start"; }
  local pids1 pids2
  pids1=$(status_pids "$T/mr.out")
  kill -9 "$(cat "$T/master.pid")"
  sleep 1
  start_master
  wait_workers 3 20 || { touch "$T/mr.go"; fail "workers did not re-register with the new master"; }
  cluster_status >"$T/mr-status.txt"
  grep -q ' 1 sessions' "$T/mr-status.txt" || { cat "$T/mr-status.txt" >&2; touch "$T/mr.go"; fail "the session did not re-register"; }
  # The next job runs after the master has been back for a while.
  sleep 2
  touch "$T/mr.go"
  wait $spid || { cat "$T/mr.err" >&2; fail "the session failed after the master restart"; }
  [ "$(sed -n '1p;2p;3p;4p' "$T/mr.out" | grep -c '^3000000$')" = 2 ] || fail "first count/acc wrong"
  local second
  second=$(sed -n '/^running job/,$p' "$T/mr.out" | sed -n '2,4p' | tr '\n' ' ')
  [ "$second" = "3000000 3000000 8999997000000 " ] || { cat "$T/mr.out" >&2; fail "after the restart: got '$second'"; }
  pids2=$(sed -n '/^running job/,$p' "$T/mr.out" | sed 1d >"$T/mr.out2"; status_pids "$T/mr.out2")
  [ -n "$pids1" ] && [ "$pids1" = "$pids2" ] || fail "executors changed: '$pids1' then '$pids2'"
  ! grep -q ExecutorLost "$T/mr.err" || fail "an executor was lost: $(grep ExecutorLost "$T/mr.err")"
  note "master killed and restarted: same executors (pids $pids1), cached data reused (accumulator unchanged)"
  # And stopped (SIGTERM) and restarted in the middle of a job: executors
  # and driver talk directly, the job goes on.
  local t0 t1
  t0=$(nx_now)
  session "$T/job.c" "$T/mrjob.out" "$T/mrjob.err" &
  spid=$!
  sleep 1
  kill -TERM "$(cat "$T/master.pid")"
  sleep 1
  start_master
  wait $spid || { cat "$T/mrjob.err" >&2; fail "the job failed across a master restart"; }
  t1=$(nx_now)
  cmp -s "$T/job.local.out" "$T/mrjob.out" || fail "results differ across a master restart"
  ! grep -q ExecutorLost "$T/mrjob.err" || fail "an executor was lost: $(grep ExecutorLost "$T/mrjob.err")"
  note "master stopped and restarted mid-job: same results, no executor lost, job $(ms_between "$t0" "$t1") ms"
}

# g. A worker dies and a new one joins: the session gets a new executor on
# it (seen in :status) and jobs still work, recomputing the lost cache.
test_worker_restart() {
  cat "$T/pause.h" >"$T/wr.c"
  cat >>"$T/wr.c" <<EOF
ds c = cache(map(range(3000000), [](long i) { return i % 1000; }));
sum(c)
:status
wait_for("$T/wr.go");
sum(c)
:status
EOF
  rm -f "$T/wr.go"
  nx_exec s timeout -k 5 120 "$bin" --master "$url" "$T/wr.c" >"$T/wr.out" 2>"$T/wr.err" &
  local spid=$!
  nx_wait_file "$T/wr.out" '^running job' 60 >/dev/null || { touch "$T/wr.go"; fail "the session did not start"; }
  local w=1 pids1 pids2 old
  pids1=$(status_pids "$T/wr.out")
  old=$(cluster_status | awk '$1 == "worker" { printf " %s ", $2 }')
  kill -9 "$(cat "$T/w$w.pid")"
  start_worker $w
  # The master notices the loss (3 s without heartbeats) and places the
  # replacement on the new worker (the others are full).
  local i ok=0
  for i in $(seq 1 60); do
    cluster_status >"$T/wr-status.txt"
    if awk -v h="$net.1$w" -v old="$old" '$1 == "worker" { f = $3 == h && $4 == "alive" && index(old, " " $2 " ") == 0; next }
                                          f && $1 == "executor" { found = 1 } END { exit !found }' "$T/wr-status.txt"; then
      ok=1
      break
    fi
    sleep 0.25
  done
  [ $ok = 1 ] || { cat "$T/wr-status.txt" >&2; touch "$T/wr.go"; fail "no executor on the new worker"; }
  touch "$T/wr.go"
  wait $spid || { cat "$T/wr.err" >&2; fail "the session failed after the worker restart"; }
  [ "$(grep -c '^1498500000$' "$T/wr.out")" = 2 ] || { cat "$T/wr.out" >&2; fail "wrong sums"; }
  sed -n '/^running job/,$p' "$T/wr.out" | sed 1d >"$T/wr.out2"
  pids2=$(status_pids "$T/wr.out2")
  grep -q '^executors: 3 alive$' "$T/wr.out2" || { cat "$T/wr.out2" >&2; fail "not 3 alive executors after the restart"; }
  [ "$pids1" != "$pids2" ] || fail "no new executor"
  grep -qE "^  worker [0-9]+ +$net.1$w +alive .*executors: [0-9]+\(session" "$T/wr.out2" ||
    { cat "$T/wr.out2" >&2; fail ":status does not show the new worker's executor"; }
  note "worker $w killed, a new one joined: executors $pids1-> $pids2, sums right"
  grep ExecutorLost "$T/wr.err" | head -1 | sed 's/^/  | /'
}

# The Slurm recipe (slow: installs and starts Slurm).
test_slurm() {
  "$here/slurm.sh" "$build"
}

# ---- main -----------------------------------------------------------------

failures=0
summary=""
run_test() {
  local name=$1 t0 rc
  echo "== cluster: $name"
  t0=$(date +%s%N)
  # In the background, so that a signal (the watchdog's) is handled at
  # once: `wait` returns to run the trap, which stops the test.
  set +e
  (
    set -e
    ensure_cluster
    "test_$name"
  ) &
  current_test=$!
  wait $current_test
  rc=$?
  current_test=""
  set -e
  local ms=$((($(date +%s%N) - t0) / 1000000))
  if [ $rc = 0 ]; then
    summary="$summary  ok      $name (${ms} ms)\n"
  else
    summary="$summary  FAILED  $name\n"
    failures=$((failures + 1))
    echo "  -- master log (tail):" >&2
    tail -n 15 "$T/master.log" 2>/dev/null | sed 's/^/  | /' >&2
  fi
}

make_scripts
# The expected results: the same scripts on local[2] (with the secret in
# the environment, which a local session must ignore).
for f in wc rbk job; do
  t0=$(nx_now)
  timeout -k 5 120 "$bin" --master 'local[2]' "$T/$f.c" >"$T/$f.local.out" 2>"$T/$f.local.err" ||
    { cat "$T/$f.local.err" >&2; echo "cluster tests: $f on local[2] failed" >&2; exit 1; }
  ms_between "$t0" "$(nx_now)" >"$T/$f.local.ms"
done
start_master
for i in 1 2 3; do start_worker "$i"; done
echo "cluster: set up in $SECONDS s (namespaces, data, local[2] results)"

tests="results status security master_restart worker_restart cut kill"
[ "$mode" = all ] && tests="$tests slurm"
[ -n "${CLUSTER_TESTS:-}" ] && tests=$CLUSTER_TESTS
for t in $tests; do run_test "$t"; done

if [ -s "$T/kills" ]; then
  awk '$5 != "none" && $5 != "?" { n++; s += $5; if (!min || $5 < min) min = $5; if ($5 > max) max = $5 }
       { jobs += $4; k++ }
       END { printf "worker kills: %d/%d jobs right; ExecutorLost after %d-%d ms (mean %d) in %d of them; mean job %d ms\n",
             k, k, min, max, n ? s / n : 0, n, k ? jobs / k : 0 }' "$T/kills"
fi
printf "cluster summary:\n$summary"
[ $failures = 0 ]
