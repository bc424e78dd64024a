ds nums = range(1, 11);
collect(map(nums, [](long x) { return x * x; }))
ds words = flat_map(parallelize(list("a b", "b c c"), 2), [](str s) { return split(s, " "); });
collect(sort_by_key(reduce_by_key(map(words, [](str w) { return kv(w, 1); }), add)))
long k = 3;
count(filter(range(100), [k](long x) { return x % k == 0; }))
int sq(int x) { return x * x; }
collect(map(range(4), [](long x) { return sq(x) + 1; }))
show(parallelize(list(kv("Tom", 14), kv("Alice", 23)), 1))
