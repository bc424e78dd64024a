#!/bin/sh
# run_scripts.sh BUILD [quick|all] -- golden-file tests of the REPL through
# the real binary: each tests/repl/NAME.c runs as `ember --master local[2]
# NAME.c`; its stdout must equal NAME.out, its stderr must contain every line
# of NAME.err (if present, in order), and the exit status must be that in
# NAME.status (default 0, or 1 when NAME.err exists). Slow ones are *.c_slow.
set -u
build=$1
mode=${2:-quick}
here=$(cd "$(dirname "$0")" && pwd)
bin="$build/ember"
fail=0
n=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
files=$(ls "$here"/repl/*.c 2>/dev/null)
[ "$mode" = all ] && files="$files $(ls "$here"/repl/*.c_slow 2>/dev/null)"
for f in $files; do
  name=$(basename "$f")
  base=${f%.c}
  base=${base%.c_slow}
  n=$((n + 1))
  (cd "$here/repl" && timeout -k 5 300 "$OLDPWD/$bin" --master 'local[2]' "$f" >"$tmp/out" 2>"$tmp/err")
  status=$?
  want=0
  [ -f "$base.err" ] && want=1
  [ -f "$base.status" ] && want=$(cat "$base.status")
  ok=1
  if ! diff -u "$base.out" "$tmp/out" >"$tmp/diff" 2>&1; then ok=0; fi
  if [ -f "$base.err" ]; then
    # Every expected stderr line must appear, in order.
    if ! awk 'NR==FNR { want[n++] = $0; next } i < n && index($0, want[i]) { i++ } END { exit i < n }' \
        "$base.err" "$tmp/err"; then
      ok=0
      echo "stderr lacks expected lines (expected $base.err):" >>"$tmp/diff"
      sed 's/^/    got: /' "$tmp/err" >>"$tmp/diff"
    fi
  fi
  if [ "$status" != "$want" ]; then
    ok=0
    echo "exit status $status, expected $want" >>"$tmp/diff"
    sed 's/^/    stderr: /' "$tmp/err" | head -20 >>"$tmp/diff"
  fi
  if [ $ok = 1 ]; then
    echo "PASS repl/$name"
  else
    echo "FAIL repl/$name"
    sed 's/^/    /' "$tmp/diff" | head -60
    fail=1
  fi
done
[ $fail = 0 ] && echo "scripts: $n passed" || echo "scripts: FAILED"
exit $fail
