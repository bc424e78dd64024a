#!/bin/sh
# run_unit.sh BUILD TEST... -- runs each unit-test program with a time limit
# (a hung test fails instead of hanging CI) and prints a summary.
set -u
build=$1
shift
fail=0
# Guard tests catch SIGSEGV/SIGFPE themselves: ASan must let them.
export ASAN_OPTIONS="${ASAN_OPTIONS:-handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_abort=0:allow_user_segv_handler=1:detect_leaks=1}"
failed=""
for t in "$@"; do
  name=$(basename "$t")
  start=$(date +%s)
  if timeout -k 10 300 "$t" > "$build/tests/$name.log" 2>&1; then
    echo "PASS $name ($(( $(date +%s) - start ))s)"
  else
    echo "FAIL $name (see $build/tests/$name.log)"
    tail -30 "$build/tests/$name.log" | sed 's/^/    /'
    fail=1
    failed="$failed $name"
  fi
done
[ $fail = 0 ] && echo "unit: all passed" || echo "unit: FAILED:$failed"
exit $fail
