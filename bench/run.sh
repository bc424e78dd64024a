#!/bin/bash
# run.sh quick|full -- ember's benchmarks, side by side with the peers, in
# one run on this machine; writes bench/results/<time>-<mode>.md and prints
# the table of medians and ratios (ember / peer).
#
# ember is driven through the real binary (`ember --master local[N] FILE.c`);
# each timed input is a `:time` cell, so times are the session's own
# measurement of that input (compile, schedule, run, collect), warm, medians
# over repetitions. The peers -- DuckDB (npm @duckdb/node-api), Polars (npm
# nodejs-polars), pandas (Debian python3-pandas) and mawk -- run the same
# workloads on the same data in the same run. The npm peers are installed in
# bench/work/peers (a git-ignored scratch folder, never a dependency of
# ember); a peer that cannot be installed or fails shows "-" in the table and
# the run goes on.
#
#   quick: a 100 MB corpus, 2 rounds of 2 repetitions (a few minutes)
#   full:  the 500 MB corpus of the targets, 2 rounds of 3 repetitions
#
# Rounds: ember's timed workloads, then DuckDB's and Polars', then all of
# them again; each median is over the repetitions of both rounds. This
# machine is shared, and its speed drifts by a fifth for minutes at a time:
# run one after the other, a peer could land in a fast stretch and ember in
# a slow one, and the ratio would say more about the neighbours than about
# either. Alternating gives both the same stretches. (pandas and mawk, far
# behind and without targets, run once.)
#
# Environment: EMBER (the binary, default build/ember; the Makefile passes
# its own), PYTHON (the Python that has pandas, default /usr/bin/python3).
set -euo pipefail
mode=${1:-quick}
case $mode in quick|full) ;; *) echo "usage: $0 quick|full" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/bench/work
data=$work/data
peers=$work/peers
ember=${EMBER:-$root/build/ember}
python=${PYTHON:-/usr/bin/python3}
mkdir -p "$data" "$peers" "$root/bench/results"
if [ "$mode" = full ]; then bytes=500000000; reps=3; else bytes=100000000; reps=2; fi
rounds=2
mb=$((bytes / 1000000))
words=$data/words_${mb}MB.txt
stamp=$(date +%Y%m%d-%H%M%S)
load0=$(cut -d' ' -f1-3 /proc/loadavg)   # the machine is shared: say how busy it was
result=$root/bench/results/$stamp-$mode.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() { printf '%s\n' "$*" >&2; }
[ -x "$ember" ] || { say "no ember binary at $ember (run make)"; exit 1; }

# ---- data and peers ---------------------------------------------------------
if [ ! -s "$words" ]; then
  say "generating $words"
  gcc -O2 -o "$work/gen_words" "$root/bench/gen_words.c" -lm
  "$work/gen_words" "$bytes" 200000 > "$words.tmp" && mv "$words.tmp" "$words"
fi
# Debian packages: each FILE:PACKAGE is installed only when FILE is missing.
# A failure here (no network, no root) only loses the peers that need them.
"$root/tools/deps.sh" /usr/bin/mawk:mawk /usr/bin/node:nodejs /usr/bin/npm:npm \
  /usr/lib/python3/dist-packages/pandas/__init__.py:python3-pandas || say "deps.sh failed; some peers may be missing"

# npm_add PKG[@VERSION]... -- installs the packages into the scratch folder
# unless each one's folder is already there; never fails the run.
npm_add() {
  local missing=() p
  for p in "$@"; do
    local name=${p%@*}; [ -n "$name" ] || name=$p   # "@scope/x@1.2" -> "@scope/x"
    [ -d "$peers/node_modules/$name" ] || missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] && return 0
  command -v npm > /dev/null || { say "no npm: cannot install ${missing[*]}"; return 0; }
  say "installing ${missing[*]} (npm) in $peers"
  [ -f "$peers/package.json" ] || (cd "$peers" && npm init -y > /dev/null 2>&1) || true
  (cd "$peers" && npm install --no-audit --no-fund "${missing[@]}" > "$tmp/npm.log" 2>&1) ||
    { say "npm install ${missing[*]} failed:"; tail -5 "$tmp/npm.log" >&2; }
}
# npm's version of an installed package (from its package.json), or "" (and
# success: it is used in assignments, which set -e would otherwise end on).
npm_version() {
  [ -f "$peers/node_modules/$1/package.json" ] || return 0
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$peers/node_modules/$1/package.json" | head -1
}

npm_add @duckdb/node-api
npm_add nodejs-polars
# npm skips Polars' native binary (an optional, platform-specific package), so
# it is installed by name, at exactly the version of nodejs-polars.
pv=$(npm_version nodejs-polars)
[ -n "$pv" ] && npm_add "nodejs-polars-linux-x64-gnu@$pv"
have_duckdb=0; have_polars=0; have_pandas=0
[ -d "$peers/node_modules/@duckdb/node-api" ] && have_duckdb=1
[ -n "$pv" ] && [ "$(npm_version nodejs-polars-linux-x64-gnu)" = "$pv" ] && have_polars=1
"$python" -c 'import pandas' 2> /dev/null && have_pandas=1
# The .mjs files must sit next to node_modules for node to resolve the imports.
cp "$root/bench/peers/duckdb.mjs" "$root/bench/peers/polars.mjs" "$peers/"

# ---- helpers ---------------------------------------------------------------
# Median of the numbers on stdin ("nan" when there are none).
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "nan" }'; }

# ember_run MASTER SCRIPT -- runs a script through the binary; the `:time`
# lines (stderr) land in $tmp/err. Returns 1 (and shows why) if ember fails.
ember_run() {
  "$ember" --master "$1" "$2" > "$tmp/out" 2> "$tmp/err" && return 0
  say "ember failed on $2:"; tail -20 "$tmp/err" >&2; return 1
}
# Median wall time of the `:time` cells in $tmp/err, in ms. A line reads
# "Time: 4.073 ms (1 job, 2 tasks; ...)" or just "Time: 0.684 ms".
cell_ms() { { grep -o 'Time: [0-9.]*' "$tmp/err" || true; } | awk '{ print $2 }' | median; }
# Median over the `:time` cells that compiled new UDFs of the compile time,
# driver + executors: "...; new UDFs compiled in 0.74 ms by the driver, 0.92
# ms by executors)".
udf_ms() {
  sed -n 's/.*compiled in \([0-9.]*\) ms by the driver, \([0-9.]*\) ms by executors.*/\1 \2/p' "$tmp/err" |
    awk '{ print $1 + $2 }' | median
}
# Repeats a timed line n times after a setup part.
timed_script() {
  local file=$1 setup=$2 line=$3 n=$4
  { printf '%s\n' "$setup"; for _ in $(seq "$n"); do printf ':time %s\n' "$line"; done; } > "$file"
}

# E: ember's results; D, PL, PD, M: DuckDB's, Polars', pandas', mawk's, keyed
# by the peers' workload names (wordcount, groupby_gen, ...), in ms.
declare -A E D PL PD M
wc_cell='count(reduce_by_key(map(flat_map(lines, [](str l) { return split(l, " "); }), [](str w) { return kv(w, 1); }), add))'

# ---- ember ----------------------------------------------------------------------
# ember_collect KEY MASTER SCRIPT -- runs the script and appends its `:time`
# cells' times to $tmp/e.KEY (a failed run adds nothing, and says why).
ember_collect() {
  ember_run "$2" "$3" || return 0
  { grep -o 'Time: [0-9.]*' "$tmp/err" || true; } | awk '{ print $2 }' >> "$tmp/e.$1"
}
timed_script "$tmp/wc.c" "ds lines = text_file(\"$words\");" "$wc_cell" "$reps"
timed_script "$tmp/gb.c" "" 'count(reduce_by_key(map(range(10000000), [](long i) { return kv((i * 7919) % 100000, i); }), add))' "$reps"
timed_script "$tmp/gbc.c" 'ds kvs = cache(map(range(10000000), [](long i) { return kv((i * 7919) % 100000, i); }));
count(kvs);' 'count(reduce_by_key(kvs, add))' "$reps"
timed_script "$tmp/sort.c" "" 'count(sort_by(range(10000000), [](long i) { return (i * 7919) % 10000000; }))' "$reps"
timed_script "$tmp/fc.c" 'ds c = cache(range(10000000));
count(c);' 'count(filter(c, [](long x) { return x % 7 == 0; }))' 11
timed_script "$tmp/triv.c" 'ds t = cache(range(1000));
count(t);' 'count(t)' 51
# One round of ember's workloads that have peers.
ember_round() {
  say "ember, round $1: word count ($mb MB, local[2] and local[1]), reduce_by_key, sort_by, filter-count, trivial job"
  ember_collect wc2 'local[2]' "$tmp/wc.c"
  ember_collect wc1 'local[1]' "$tmp/wc.c"
  ember_collect gb 'local[2]' "$tmp/gb.c"
  ember_collect gbc 'local[2]' "$tmp/gbc.c"
  ember_collect sort 'local[2]' "$tmp/sort.c"
  ember_collect fc 'local[2]' "$tmp/fc.c"
  ember_collect triv 'local[2]' "$tmp/triv.c"
}

say "ember: lambda compile"
# A new lambda in each of 21 cells (x + 1, x + 2, ...), so each cell compiles
# one in the driver and on every executor. The REPL's `:time` line reports
# those compile times itself; compile + ship is their sum (driver, then
# executors), median over the cells. The wall time of the same cells is the
# user-visible cost of a new lambda over cached data: 1e6 rows, as issue 3's
# latency goal states it (a cell answering count in under 10 ms).
{
  echo 'ds t = cache(range(1000000));'
  echo 'count(map(t, [](long x) { return x + 0; }));'
  for k in $(seq 1 21); do echo ":time count(map(t, [](long x) { return x + $k; }))"; done
} > "$tmp/new.c"
E[lambda]=nan; E[newcell]=nan
if ember_run 'local[2]' "$tmp/new.c"; then E[lambda]=$(udf_ms); E[newcell]=$(cell_ms); fi

say "ember: cold start (new session to first result, and to exit)"
# The first line on stderr is the `:time` line, written when the first result
# is out (stderr is unbuffered; stdout into a pipe is not), so reading it
# marks "first result" without counting the session's shutdown; the exit time
# is measured too, as a separate row.
for _ in $(seq "$reps"); do
  s=$(date +%s%N)
  { "$ember" --master 'local[2]' -e ':time count(range(1000))' 2>&1 > /dev/null || echo failed; } |
    { IFS= read -r l; case $l in Time:*) echo "first $(( ($(date +%s%N) - s) / 1000 ))" ;; esac; cat > /dev/null; }
  echo "exit $(( ($(date +%s%N) - s) / 1000 ))"
done > "$tmp/cold"
E[cold]=$(awk '$1 == "first" { print $2 / 1000 }' "$tmp/cold" | median)
# (exit times only of the runs that did give a result)
E[coldexit]=$(awk '$1 == "first" { ok = 1 } $1 == "exit" { if (ok) print $2 / 1000; ok = 0 }' "$tmp/cold" | median)

say "ember: executor memory for a cached 1e7 longs"
# The executors' RSS (the driver's children) once the cache is filled: the
# `:time` line on stderr (unbuffered, unlike stdout to a file) says the count
# is done, and the sleep keeps the session alive while we look.
printf '#include <unistd.h>\nds c = cache(range(10000000));\n:time count(c)\nsleep(6);\n' > "$tmp/mem.c"
"$ember" --master 'local[2]' "$tmp/mem.c" > /dev/null 2> "$tmp/memerr" &
epid=$!
for _ in $(seq 600); do grep -q 'Time:' "$tmp/memerr" && break; kill -0 "$epid" 2> /dev/null || break; sleep 0.1; done
rss=0
if grep -q 'Time:' "$tmp/memerr"; then
  for c in $(pgrep -P "$epid" || true); do
    r=$(awk '/VmRSS/ { print $2 }' "/proc/$c/status" 2> /dev/null || true)
    rss=$((rss + ${r:-0}))
  done
fi
wait "$epid" || say "ember failed on the memory script: $(tail -3 "$tmp/memerr")"
E[mem]=$(awk -v k="$rss" 'BEGIN { if (k > 0) printf "%.1f", k / 1024; else print "nan" }')

# ---- peers ----------------------------------------------------------------------
# read_peer FILE ARRAY -- "name value" lines into the associative array.
# shellcheck disable=SC2034  # arr is used: it names the caller's array
read_peer() {
  local -n arr=$2
  local k v
  while read -r k v; do [ -n "$k" ] && arr["$k"]=$v; done < "$1"
}
# A peer that hangs must not hold the run forever; none takes near this long.
limit=1800
# One round of DuckDB and Polars; each prints "name t1 t2 ..." lines (all
# repetitions), appended to $tmp/d.all and $tmp/pl.all.
peers_round() {
  if [ $have_duckdb = 1 ]; then
    say "DuckDB (2 threads), round $1"
    (cd "$peers" && timeout $limit node duckdb.mjs "$words" 2 "$reps") >> "$tmp/d.all" 2> "$tmp/duck.err" ||
      { say "DuckDB failed:"; tail -5 "$tmp/duck.err" >&2; }
  fi
  if [ $have_polars = 1 ]; then
    say "Polars (POLARS_MAX_THREADS=2), round $1"
    (cd "$peers" && POLARS_MAX_THREADS=2 timeout $limit node polars.mjs "$words" "$reps") >> "$tmp/pl.all" 2> "$tmp/polars.err" ||
      { say "Polars failed:"; tail -5 "$tmp/polars.err" >&2; }
  fi
}
# read_rounds FILE ARRAY -- the median of each name's times over all lines
# ("version X" lines give the version).
read_rounds() {
  [ -f "$1" ] || return 0
  local -n arr=$2
  local k v
  for k in $(awk '$1 != "version" { print $1 }' "$1" | sort -u); do
    arr["$k"]=$(awk -v k="$k" '$1 == k { for (i = 2; i <= NF; i++) print $i }' "$1" | median)
  done
  v=$(awk '$1 == "version" { sub(/^version /, ""); print; exit }' "$1")
  [ -n "$v" ] && arr[version]=$v
  return 0
}
: > "$tmp/d.all"; : > "$tmp/pl.all"
for round in $(seq "$rounds"); do
  ember_round "$round"
  peers_round "$round"
done
for k in wc2 wc1 gb gbc sort fc triv; do
  E[$k]=$( [ -s "$tmp/e.$k" ] && median < "$tmp/e.$k" || echo nan)
done
read_rounds "$tmp/d.all" D
read_rounds "$tmp/pl.all" PL
if [ $have_pandas = 1 ]; then
  # pandas' word count goes through a Python string per word (about 10 s per
  # 100 MB here, several GB of memory at 500 MB), so it runs on the quick
  # corpus only.
  say "pandas$([ "$mode" = quick ] && echo ", with word count")"
  pw=(); [ "$mode" = quick ] && pw=("$words")
  timeout $limit "$python" "$root/bench/peers/pandas_bench.py" "$reps" "${pw[@]}" > "$tmp/pandas" 2> "$tmp/pandas.err" ||
    { say "pandas failed:"; tail -5 "$tmp/pandas.err" >&2; }
  read_peer "$tmp/pandas" PD
fi
if command -v mawk > /dev/null; then
  say "mawk word count"
  n=$([ "$mode" = full ] && echo 1 || echo "$reps")   # about 30 s per run at 500 MB
  for _ in $(seq "$n"); do
    s=$(date +%s%N)
    LC_ALL=C mawk -f "$root/bench/peers/wc.awk" "$words" > /dev/null || continue
    echo $(( ($(date +%s%N) - s) / 1000000 ))
  done | median > "$tmp/mawk"
  M[wordcount]=$(cat "$tmp/mawk")
  M[version]=$({ mawk -W version 2>&1 || true; } | awk 'NR == 1 { print $2 }')
fi

# ---- the table --------------------------------------------------------------------
# Numbers are ms; "nan" or "" means not measured, shown as "-".
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "nan" && a != "" && b != "nan" && b + 0 > 0) printf "%.2f×", a / b; else print "-" }'; }
fmt() { awk -v a="$1" 'BEGIN { if (a == "nan" || a == "") print "-"; else if (a >= 1000) printf "%.2f s", a / 1000; else printf "%.2f ms", a }'; }
# check VALUE LIMIT le|ge -- met / MISSED, or ? when the value is missing.
check() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { sub(/×$/, "", v); if (v == "-" || v == "nan" || v == "") { print "?"; exit }
  ok = (op == "le" ? v + 0 <= t + 0 : op == "lt" ? v + 0 < t + 0 : v + 0 >= t + 0); print ok ? "met" : "MISSED" }'; }
# row LABEL EMBER_MS PEER_KEY TARGET STATUS -- one workload: ember, then each
# peer's time under PEER_KEY and ember/peer ("" key: no peer does it).
row() {
  local label=$1 e=$2 key=$3 target=$4 status=$5 cells="" a
  for a in D PL PD M; do
    local -n p=$a
    local t=""; [ -n "$key" ] && t=${p[$key]:-}
    cells="$cells $(fmt "$t") | $(ratio "$e" "$t") |"
  done
  echo "| $label | $(fmt "$e") |$cells $target | $status |"
}
speedup=$(ratio "${E[wc1]}" "${E[wc2]}")
rss_x=$(awk -v m="${E[mem]}" 'BEGIN { if (m == "nan") print "-"; else printf "%.2f×", m / 76.29 }')   # 80 MB = 76.29 MiB
cpu=$(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//')
ver() { [ -n "$1" ] && echo "$1" || echo "not available"; }
{
  echo "# ember benchmarks, $mode, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- Machine: $(nproc) cores, ${cpu:-unknown CPU}; $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM;" \
    "kernel $(uname -r); load average $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
  echo "- ember $(git -C "$root" rev-parse --short HEAD 2> /dev/null || echo '?')$(git -C "$root" diff --quiet HEAD -- engine repl udf kernel 2> /dev/null || echo ' + local changes'), local[2] unless said."
  echo "- Peers: DuckDB $(ver "${D[version]:-}") (npm @duckdb/node-api $(ver "$(npm_version @duckdb/node-api)"), 2 threads);" \
    "Polars: nodejs-polars $(ver "${PL[version]:-}") (POLARS_MAX_THREADS=2); pandas $(ver "${PD[version]:-}");" \
    "mawk $(ver "${M[version]:-}"); node $(node --version 2> /dev/null || echo 'not available')."
  echo "- Corpus: $mb MB of Zipf words; medians of $((rounds * reps)) runs in $rounds rounds, ember and DuckDB and Polars alternating (filter-count $((rounds * 11)), trivial job $((rounds * 51)); 21 cells for lambdas; pandas and mawk: one round)."
  echo
  echo "| workload | ember | DuckDB | ember/DuckDB | Polars | ember/Polars | pandas | ember/pandas | mawk | ember/mawk | target | |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  r=$(ratio "${E[wc2]}" "${D[wordcount]:-}")
  row "word count $mb MB" "${E[wc2]}" wordcount "≤ 1.0× DuckDB" "$(check "$r" 1.0 le)"
  row "word count $mb MB, local[1]" "${E[wc1]}" "" "" ""
  r=$(ratio "${E[gb]}" "${D[groupby_gen]:-}")
  row "reduce_by_key 1e7 → 1e5 keys" "${E[gb]}" groupby_gen "≤ 1.0× DuckDB" "$(check "$r" 1.0 le)"
  row "reduce_by_key 1e7 → 1e5 keys, cached input" "${E[gbc]}" groupby_table "" ""
  row "sort_by 1e7 longs" "${E[sort]}" sort "" ""
  row "filter-count, cached 1e7 longs" "${E[fc]}" filtercount "≤ 20 ms" "$(check "${E[fc]}" 20 le)"
  row "trivial job (count, cached 1000)" "${E[triv]}" select42 "≤ 2 ms" "$(check "${E[triv]}" 2 le)"
  row "lambda compile + ship (driver + executors)" "${E[lambda]}" "" "≤ 3 ms" "$(check "${E[lambda]}" 3 le)"
  row "cell with a new lambda: count over cached 1e6 longs" "${E[newcell]}" "" "< 10 ms" "$(check "${E[newcell]}" 10 lt)"
  row "cold start: new session to first result" "${E[cold]}" "" "" ""
  row "new session to first result and exit" "${E[coldexit]}" "" "" ""
  echo "| local[1] → local[2] speed-up, word count | $speedup | | | | | | | | | ≥ 1.8× | $(check "$speedup" 1.8 ge) |"
  echo "| executor RSS, cached 1e7 longs | $([ "${E[mem]}" = nan ] && echo - || echo "${E[mem]} MiB") | | | | | | | | | ≤ 1.2× 80 MB (now $rss_x) | $(check "$rss_x" 1.2 le) |"
  echo
  echo "Peers' rows: word count = DuckDB read_csv + unnest(string_split) + GROUP BY, Polars scanCSV + str.split + explode + group_by,"
  echo "pandas read_csv + str.split + explode + value_counts$([ "$mode" = full ] && echo ' (quick mode only)'), mawk wc.awk;"
  echo "reduce_by_key = GROUP BY k, sum(v) over the same generated numbers (cached input: over a table / frame already in memory);"
  echo "sort = ORDER BY / sort of the same 1e7 numbers; filter-count = count where x % 7 = 0 over a 1e7 column in memory;"
  echo "trivial job = SELECT 42 (DuckDB), a one-literal lazy query (Polars)."
} > "$result"
cat "$result"
say "written to $result"
