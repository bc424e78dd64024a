#!/bin/sh
# run_all.sh BUILD quick|all -- every test suite, in order: unit tests
# (cmocka programs), REPL script tests, the REPL in a terminal (tmux),
# Jupyter kernel tests, cluster tests
# (network namespaces, tests/cluster; "all" adds Slurm); "all" adds the
# slow soak/fault/fuzz tests. Prints a summary and fails if any suite failed.
set -u
build=$1
mode=${2:-quick}
here=$(cd "$(dirname "$0")" && pwd)
status=0
summary=""

run_suite() {
  name=$1
  shift
  echo "== $name"
  if "$@"; then
    summary="$summary\n  ok      $name"
  else
    summary="$summary\n  FAILED  $name"
    status=1
  fi
}

# Test programs only: the build directory also holds their logs and the
# compiler's dependency files (test_x.d), which are not programs.
units=""
for f in "$build"/tests/test_*; do
  case $f in *.log | *.d) continue ;; esac
  [ -f "$f" ] && [ -x "$f" ] && units="$units $f"
done
run_suite unit "$here/run_unit.sh" "$build" $units
if [ -x "$here/run_scripts.sh" ]; then
  run_suite scripts "$here/run_scripts.sh" "$build" "$mode"
fi
if [ -x "$here/repl/terminal.sh" ]; then
  run_suite terminal "$here/repl/terminal.sh" "$build"
fi
if [ -x "$here/kernel/run.sh" ]; then
  run_suite kernel "$here/kernel/run.sh" "$build" "$mode"
fi
if [ -x "$here/cluster/run.sh" ]; then
  run_suite cluster "$here/cluster/run.sh" "$build" "$mode"
fi
if [ "$mode" = all ] && [ -x "$here/run_slow.sh" ]; then
  run_suite slow "$here/run_slow.sh" "$build"
fi
printf "summary:$summary\n"
exit $status
