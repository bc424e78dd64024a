#!/bin/bash
# terminal.sh BUILD -- the REPL driven as a person would, in a terminal:
# tmux runs `ember` on a pseudo-terminal and this script types into it and
# reads the screen. Checks multi-line input, Tab completion, history (arrow
# keys and ~/.ember_history), Ctrl-C cancelling an endless UDF within a
# second, Ctrl-C at an empty prompt, and :quit. Skips without tmux; bounded
# in time; the tmux server is private (its own socket) and always killed.
set -u
build=$(cd "${1:?usage: terminal.sh BUILD}" && pwd)
if ! command -v tmux >/dev/null; then
  echo "SKIP terminal: no tmux"
  exit 0
fi
tmp=$(mktemp -d)
sock="$tmp/tmux.sock"
T() { tmux -S "$sock" "$@"; }
cleanup() {
  T kill-server 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() {
  echo "FAIL terminal: $*"
  echo "---- screen:"
  T capture-pane -p -t ember 2>/dev/null | sed '/^$/d' | tail -25
  fails=$((fails + 1))
}
screen() { T capture-pane -p -J -S -200 -t ember 2>/dev/null; }
# wait_for TEXT SECONDS [-x]: polls the screen until TEXT shows (a fixed
# string; with -x, a whole line).
wait_for() {
  local deadline=$(($(date +%s%N) / 1000000 + ${2:-10} * 1000))
  while [ $(($(date +%s%N) / 1000000)) -lt $deadline ]; do
    screen | grep -qF ${3:-} -- "$1" && return 0
    sleep 0.05
  done
  return 1
}
wait_line() { wait_for "$1" "${2:-10}" -x; }
# type_line TEXT: types TEXT literally, then Enter. (tmux takes an
# argument ending in ';' as the end of its command: that one is escaped.)
type_line() {
  local s=$1
  case $s in *\;) s="${s%;}\\;" ;; esac
  T send-keys -t ember -l "$s"
  T send-keys -t ember Enter
}
# count_of TEXT: how many screen lines hold TEXT.
count_of() { screen | grep -cF -- "$1"; }

T -f /dev/null new-session -d -s ember -x 160 -y 50 \
  "env HOME=$tmp TERM=xterm $build/ember --master 'local[2]'; echo EMBER-EXITED \$?; sleep 30"
wait_for "ember [1]>" 20 || { fail "no prompt"; exit 1; }

# Multi-line input: continues while braces/parentheses are open.
type_line 'long k = 3;'
type_line 'count(filter(range(100), [k](long x) {'
type_line '  return x % k == 0;'
type_line '}))'
wait_line "34" 20 || fail "multi-line input did not give 34"

# Tab completion of an API name: "coll<Tab>" becomes "collect".
T send-keys -t ember 'coll' Tab
wait_for "> collect" 5 || fail "Tab did not complete coll"
type_line '(range(3))'
wait_for "[0, 1, 2]" 20 || fail "completed line did not run"
# ... and of a session variable.
type_line 'long my_variable = 41;'
T send-keys -t ember 'my_var' Tab
type_line ' + 1'
wait_line "42" 10 || fail "Tab did not complete a session variable"

# History: Up recalls the last input.
n=$(count_of "[0, 1, 2]")
type_line 'collect(range(3))'
wait_for "[0, 1, 2]" 10
sleep 0.3
n=$(count_of "[0, 1, 2]")
T send-keys -t ember Up Enter
for _ in $(seq 100); do [ "$(count_of "[0, 1, 2]")" -gt "$n" ] && break; sleep 0.1; done
[ "$(count_of "[0, 1, 2]")" -gt "$n" ] || fail "Up + Enter did not run the last input again"

# Ctrl-C during an endless UDF: back at the prompt within a second.
type_line 'count(filter(range(1000000000000), [](long x) { while (1); return 1; }))'
sleep 1.5
t0=$(date +%s%N)
T send-keys -t ember C-c
if wait_for "Cancelled" 5; then
  ms=$((($(date +%s%N) - t0) / 1000000))
  echo "terminal: Ctrl-C to 'Cancelled' in $ms ms"
  [ "$ms" -le 1000 ] || fail "Cancelled after $ms ms (more than a second)"
else
  fail "Ctrl-C did not cancel the job"
fi
type_line 'count(range(55))'
wait_line "55" 10 || fail "no result after a cancel"

# Ctrl-C twice at an empty prompt says how to quit, and does not quit.
T send-keys -t ember C-c
sleep 0.2
T send-keys -t ember C-c
wait_for ":quit" 5 || fail "a second Ctrl-C at an empty prompt did not say how to quit"
type_line 'count(range(66))'
wait_line "66" 10 || fail "the REPL did not go on after Ctrl-C at the prompt"

# :quit ends it; the history file keeps the inputs.
type_line ':quit'
wait_for "EMBER-EXITED 0" 10 || fail ":quit did not exit with status 0"
grep -qF 'count(range(66))' "$tmp/.ember_history" || fail "~/.ember_history lacks the inputs"
grep -qF 'return x % k == 0;' "$tmp/.ember_history" || fail "~/.ember_history lacks the multi-line input"

screen | sed '/^$/d' | sed 's/^/  | /'
if [ $fails = 0 ]; then
  echo "PASS terminal (multi-line, Tab, history, Ctrl-C, :quit)"
  exit 0
fi
exit 1
