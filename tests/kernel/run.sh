#!/bin/sh
# run.sh BUILD [quick|all] -- the Jupyter kernel tests, against BUILD/ember:
#
#   test_kernel.py    jupyter_kernel_test's conformance suite + ember's protocol tests
#   run_notebook.py   share/examples/tour.ipynb executed headless with nbclient,
#                     outputs checked; interrupts through jupyter_client
#   fuzz_protocol.py  bad signatures, garbage frames, malformed JSON, huge frames
#   bench_start.py    kernel start to first kernel_info_reply (< 0.5 s)
#
# The kernelspec is installed into a temporary prefix (JUPYTER_PATH points
# there) and every Jupyter directory, connection file and session scratch
# dir lives under it, so nothing of the user's Jupyter set-up is used or
# touched. Each test is bounded by a timeout; on exit (failure or not) the
# kernels still running from the temporary dir are killed by PID (their
# executors die with them) and the dir is removed. Jupyter's Python packages
# are Debian's: /usr/bin/python3. Exits non-zero if any test failed.
set -u
build=${1:?usage: run.sh BUILD [quick|all]}
mode=${2:-quick}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ember=$(cd "$build" && pwd)/ember
py=/usr/bin/python3
logdir=$(cd "$build" && pwd)/tests
mkdir -p "$logdir"

if [ ! -x "$ember" ]; then
  echo "kernel: $ember not built" >&2
  exit 1
fi
for mod in jupyter_client jupyter_kernel_test nbclient nbformat zmq; do
  if ! $py -c "import $mod" 2>/dev/null; then
    echo "kernel: $py cannot import $mod (apt-get install python3-jupyter-client python3-jupyter-kernel-test python3-nbclient)" >&2
    exit 1
  fi
done

tmp=$(mktemp -d /tmp/ember-kernel-tests.XXXXXX)

# Kills the processes whose command line mentions the temporary dir (the
# kernels started there), by PID, then removes the dir.
cleanup() {
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$pid" = "$$" ] && continue
    if tr '\0' ' ' 2>/dev/null < "$d/cmdline" | grep -q -- "$tmp"; then
      kill -9 "$pid" 2>/dev/null
    fi
  done
  rm -rf "$tmp"
}
child=""
trap cleanup EXIT
# timeout puts the test in its own process group, so an interrupt of this
# script is passed on to it (timeout forwards it to the test).
trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; exit 130' INT TERM

"$ember" install-kernel --prefix "$tmp" > /dev/null || exit 1
export JUPYTER_PATH="$tmp/share/jupyter"
export JUPYTER_DATA_DIR="$tmp/data"
export JUPYTER_CONFIG_DIR="$tmp/config"
export JUPYTER_RUNTIME_DIR="$tmp/runtime"
export IPYTHONDIR="$tmp/ipython"
export TMPDIR="$tmp"
export EMBER_LOCAL_DIR="$tmp"
export EMBER_MASTER="${EMBER_KERNEL_TEST_MASTER:-local[2]}"
export PYTHONDONTWRITEBYTECODE=1
mkdir -p "$JUPYTER_RUNTIME_DIR"

failed=""
run() {
  name=$1
  limit=$2
  shift 2
  start=$(date +%s)
  (cd "$here" && exec timeout -k 10 "$limit" "$@") > "$logdir/kernel-$name.log" 2>&1 &
  child=$!
  wait "$child"
  rc=$?
  child=""
  if [ $rc = 0 ]; then
    echo "PASS $name ($(( $(date +%s) - start ))s)"
  else
    echo "FAIL $name (see $logdir/kernel-$name.log)"
    tail -40 "$logdir/kernel-$name.log" | sed 's/^/    /'
    failed="$failed $name"
  fi
}

run test_kernel 600 $py -m unittest -v test_kernel
run run_notebook 300 $py run_notebook.py "$root/share/examples/tour.ipynb" "$logdir/tour.out.ipynb"
run fuzz_protocol 600 $py fuzz_protocol.py "$mode"
run bench_start 120 $py bench_start.py "$ember" 5

if [ -n "$failed" ]; then
  echo "kernel: FAILED:$failed"
  exit 1
fi
echo "kernel: all passed"
exit 0
