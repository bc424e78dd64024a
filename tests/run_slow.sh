#!/bin/sh
# run_slow.sh BUILD -- the slow soak/acceptance programs (tests/unit/slow_*.c:
# 20 executor kills during 1e7-row shuffles and a 100 MB word count against
# sort | uniq -c; a 4 GB shuffle with a 1 GB executor budget), part of
# `make test-all` only. Each is bounded in time; their output (times, peak
# RSS) is kept in BUILD/tests/NAME.log and its last lines are shown.
set -u
build=$1
fail=0
export ASAN_OPTIONS="${ASAN_OPTIONS:-handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_abort=0:allow_user_segv_handler=1:detect_leaks=1}"
for t in "$build"/tests/slow_*; do
  case "$t" in *.d|*.log) continue ;; esac
  [ -x "$t" ] || continue
  name=$(basename "$t")
  start=$(date +%s)
  if timeout -k 10 1800 "$t" > "$build/tests/$name.log" 2>&1; then
    echo "PASS $name ($(( $(date +%s) - start ))s)"
    grep -vE '^\[ *(RUN|OK|PASSED|==========) ' "$build/tests/$name.log" | tail -5 | sed 's/^/    /'
  else
    echo "FAIL $name (see $build/tests/$name.log)"
    tail -30 "$build/tests/$name.log" | sed 's/^/    /'
    fail=1
  fi
done
exit $fail
