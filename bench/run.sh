#!/bin/bash
# run.sh quick|full -- ember's benchmarks, side by side with the peers, in
# one run on this machine; writes bench/results/<time>-<mode>.md and prints
# the table of medians and ratios (ember / peer).
#
# ember is driven through the real binary (`ember --master local[N] FILE.c`);
# each timed input is a `:time` cell, so times are the session's own
# measurement of that input (compile, schedule, run, collect), warm, medians
# over repetitions. The peers (DuckDB through npm's @duckdb/node-api; mawk)
# are installed in bench/work/ (a scratch folder, never a dependency of
# ember) and run on the same data in the same run.
#
#   quick: a 100 MB corpus, 3 repetitions (a few minutes)
#   full:  the 500 MB corpus of the targets, 5 repetitions
set -euo pipefail
mode=${1:-quick}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/bench/work
data=$work/data
peers=$work/peers
ember=$root/build/ember
mkdir -p "$data" "$peers" "$root/bench/results"
if [ "$mode" = full ]; then bytes=500000000; reps=5; else bytes=100000000; reps=3; fi
words=$data/words_$((bytes / 1000000))MB.txt
stamp=$(date +%Y%m%d-%H%M%S)
result=$root/bench/results/$stamp-$mode.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() { printf '%s\n' "$*" >&2; }

# ---- data and peers ---------------------------------------------------------
if [ ! -s "$words" ]; then
  say "generating $words"
  gcc -O2 -o "$work/gen_words" "$root/bench/gen_words.c" -lm
  "$work/gen_words" "$bytes" 200000 > "$words.tmp" && mv "$words.tmp" "$words"
fi
"$root/tools/deps.sh" /usr/bin/mawk:mawk /usr/bin/node:nodejs /usr/bin/npm:npm || true
have_duckdb=0
if [ ! -d "$peers/node_modules/@duckdb/node-api" ] && command -v npm >/dev/null; then
  say "installing DuckDB (npm @duckdb/node-api) in $peers"
  (cd "$peers" && [ -f package.json ] || (cd "$peers" && npm init -y >/dev/null)
   cd "$peers" && npm install --no-audit --no-fund --silent @duckdb/node-api >/dev/null 2>&1) || say "npm install failed"
fi
[ -d "$peers/node_modules/@duckdb/node-api" ] && have_duckdb=1
cp "$root/bench/peers/duckdb.mjs" "$peers/"

# ---- helpers ---------------------------------------------------------------
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "nan" }'; }

# Runs an ember script and prints the median of its ":time" results (ms).
ember_times() {
  local master=$1 script=$2
  "$ember" --master "$master" "$script" > "$tmp/out" 2> "$tmp/err" || { say "ember failed on $script:"; cat "$tmp/err" >&2; echo nan; return; }
  grep -o 'Time: [0-9.]*' "$tmp/err" | awk '{ print $2 }' | median
}

# Repeats a timed line n times after a setup part.
timed_script() {
  local file=$1 setup=$2 line=$3 n=$4
  { printf '%s\n' "$setup"; for _ in $(seq "$n"); do printf ':time %s\n' "$line"; done; } > "$file"
}

declare -A E P
wc_cell='count(reduce_by_key(map(flat_map(lines, [](str l) { return split(l, " "); }), [](str w) { return kv(w, 1); }), add))'

# ---- ember ----------------------------------------------------------------------
say "ember: word count ($((bytes / 1000000)) MB), local[2] and local[1]"
timed_script "$tmp/wc.c" "ds lines = text_file(\"$words\");" "$wc_cell" "$reps"
E[wc2]=$(ember_times 'local[2]' "$tmp/wc.c")
E[wc1]=$(ember_times 'local[1]' "$tmp/wc.c")

say "ember: reduce_by_key of 1e7 longs into 1e5 keys"
timed_script "$tmp/gb.c" "" 'count(reduce_by_key(map(range(10000000), [](long i) { return kv((i * 7919) % 100000, i); }), add))' "$reps"
E[gb]=$(ember_times 'local[2]' "$tmp/gb.c")
timed_script "$tmp/gbc.c" 'ds kvs = cache(map(range(10000000), [](long i) { return kv((i * 7919) % 100000, i); }));
count(kvs);' 'count(reduce_by_key(kvs, add))' "$reps"
E[gbc]=$(ember_times 'local[2]' "$tmp/gbc.c")

say "ember: sort_by of 1e7 longs"
timed_script "$tmp/sort.c" "" 'count(sort_by(range(10000000), [](long i) { return (i * 7919) % 10000000; }))' "$reps"
E[sort]=$(ember_times 'local[2]' "$tmp/sort.c")

say "ember: filter-count over a cached 1e7 longs, trivial job, lambda compile"
{
  echo 'ds c = cache(range(10000000));'
  echo 'count(c);'
  for _ in $(seq 11); do echo ':time count(filter(c, [](long x) { return x % 7 == 0; }))'; done
} > "$tmp/fc.c"
E[fc]=$(ember_times 'local[2]' "$tmp/fc.c")
timed_script "$tmp/triv.c" 'ds t = cache(range(1000));
count(t);' 'count(t)' 51
E[triv]=$(ember_times 'local[2]' "$tmp/triv.c")
# A new lambda per cell (compiled in the driver and on every executor) against
# the same cell with a lambda already compiled: the difference is the cost of
# compiling and shipping a lambda.
{
  echo 'ds t = cache(range(1000));'
  echo 'count(map(t, [](long x) { return x + 0; }));'
  for k in $(seq 1 21); do echo ":time count(map(t, [](long x) { return x + $k; }))"; done
} > "$tmp/new.c"
{
  echo 'ds t = cache(range(1000));'
  echo 'count(map(t, [](long x) { return x + 1; }));'
  for _ in $(seq 1 21); do echo ':time count(map(t, [](long x) { return x + 1; }))'; done
} > "$tmp/old.c"
new_ms=$(ember_times 'local[2]' "$tmp/new.c")
old_ms=$(ember_times 'local[2]' "$tmp/old.c")
E[lambda]=$(awk -v a="$new_ms" -v b="$old_ms" 'BEGIN { d = a - b; print (d < 0 ? 0 : d) }')
E[newcount]=$new_ms

say "ember: cold start (new session to first result)"
for _ in $(seq "$reps"); do
  s=$(date +%s%N)
  "$ember" --master 'local[2]' -e 'count(range(1000))' > /dev/null
  echo $(( ($(date +%s%N) - s) / 1000 ))
done | awk '{ print $1 / 1000 }' | median > "$tmp/cold"
E[cold]=$(cat "$tmp/cold")

say "ember: executor memory for a cached 1e7 longs"
printf '#include <unistd.h>\nds c = cache(range(10000000));\ncount(c);\nsleep(6);\n' > "$tmp/mem.c"
"$ember" --master 'local[2]' "$tmp/mem.c" > /dev/null 2>&1 &
epid=$!
sleep 4.5
rss=0
for c in $(pgrep -P "$epid" || true); do
  r=$(awk '/VmRSS/ { print $2 }' "/proc/$c/status" 2>/dev/null || echo 0)
  rss=$((rss + r))
done
wait "$epid" || true
E[mem]=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')

# ---- peers ----------------------------------------------------------------------
if [ $have_duckdb = 1 ]; then
  say "DuckDB (2 threads)"
  (cd "$peers" && node duckdb.mjs "$words" 2 "$reps") > "$tmp/duck" 2>&1 || cat "$tmp/duck" >&2
  while read -r k v; do P[$k]=$v; done < "$tmp/duck"
fi
if command -v mawk >/dev/null; then
  say "mawk word count"
  n=$([ "$mode" = full ] && echo 1 || echo "$reps")
  for _ in $(seq "$n"); do
    s=$(date +%s%N)
    LC_ALL=C mawk -f "$root/bench/peers/wc.awk" "$words" > /dev/null
    echo $(( ($(date +%s%N) - s) / 1000000 ))
  done | median > "$tmp/mawk"
  P[mawk]=$(cat "$tmp/mawk")
fi

# ---- the table --------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "nan") printf "%.2f", a / b; else print "-" }'; }
fmt() { awk -v a="$1" 'BEGIN { if (a == "nan" || a == "") print "-"; else if (a >= 1000) printf "%.2f s", a / 1000; else printf "%.2f ms", a }'; }
check() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { if (v == "-" || v == "nan" || v == "") { print "?"; exit }
  ok = (op == "le" ? v + 0 <= t + 0 : v + 0 >= t + 0); print ok ? "met" : "MISSED" }'; }
speedup=$(ratio "${E[wc1]}" "${E[wc2]}")
{
  echo "# ember benchmarks, $mode, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores ($(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//')), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; $(uname -sr)."
  echo "Corpus: $((bytes / 1000000)) MB of Zipf words; medians of $reps runs (51 for tiny jobs); ember on local[2] unless said."
  echo
  echo "| workload | ember | peer | peer time | ember/peer | target | |"
  echo "|---|---|---|---|---|---|---|"
  r=$(ratio "${E[wc2]}" "${P[wordcount]:-}"); echo "| word count $((bytes / 1000000)) MB | $(fmt "${E[wc2]}") | DuckDB 2 threads | $(fmt "${P[wordcount]:-}") | $r | ≤ 1.0 | $(check "$r" 1.0 le) |"
  r=$(ratio "${E[wc2]}" "${P[mawk]:-}"); echo "| word count $((bytes / 1000000)) MB | $(fmt "${E[wc2]}") | mawk | $(fmt "${P[mawk]:-}") | $r | | |"
  r=$(ratio "${E[gb]}" "${P[groupby_gen]:-}"); echo "| reduce_by_key 1e7 → 1e5 keys | $(fmt "${E[gb]}") | DuckDB GROUP BY (generated) | $(fmt "${P[groupby_gen]:-}") | $r | ≤ 1.0 | $(check "$r" 1.0 le) |"
  r=$(ratio "${E[gbc]}" "${P[groupby_table]:-}"); echo "| reduce_by_key 1e7 → 1e5 keys, cached input | $(fmt "${E[gbc]}") | DuckDB GROUP BY (table) | $(fmt "${P[groupby_table]:-}") | $r | | |"
  r=$(ratio "${E[sort]}" "${P[sort]:-}"); echo "| sort_by 1e7 longs | $(fmt "${E[sort]}") | DuckDB ORDER BY | $(fmt "${P[sort]:-}") | $r | | |"
  r=$(ratio "${E[fc]}" "${P[filtercount]:-}"); echo "| filter-count, cached 1e7 longs, lambda | $(fmt "${E[fc]}") | DuckDB count WHERE | $(fmt "${P[filtercount]:-}") | $r | ≤ 20 ms | $(check "${E[fc]}" 20 le) |"
  r=$(ratio "${E[triv]}" "${P[select42]:-}"); echo "| trivial job (count, cached 1000) | $(fmt "${E[triv]}") | DuckDB SELECT 42 | $(fmt "${P[select42]:-}") | $r | ≤ 2 ms | $(check "${E[triv]}" 2 le) |"
  echo "| lambda compile + ship | $(fmt "${E[lambda]}") | | | | ≤ 3 ms | $(check "${E[lambda]}" 3 le) |"
  echo "| new lambda over cached data, whole cell | $(fmt "${E[newcount]}") | | | | < 10 ms | $(check "${E[newcount]}" 10 le) |"
  echo "| cold start: new session to first result | $(fmt "${E[cold]}") | | | | | |"
  echo "| local[1] → local[2] speed-up, word count | ${speedup}× | | | | ≥ 1.8× | $(check "$speedup" 1.8 ge) |"
  echo "| executor RSS, cached 1e7 longs (80 MB raw) | ${E[mem]} MiB | | | $(awk -v m="${E[mem]}" 'BEGIN { printf "%.2f× raw", m / 76.29 }') | ≤ 1.2× | $(awk -v m="${E[mem]}" 'BEGIN { print (m / 76.29 <= 1.2) ? "met" : "MISSED" }') |"
} > "$result"
cat "$result"
say "written to $result"
