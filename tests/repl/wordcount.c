// Word count of a text file, checked against tr | sort | uniq -c.
ds lines = text_file("data/two_cities.txt");
count(lines)
ds counts = reduce_by_key(map(flat_map(lines, [](str s) { return split(s, " "); }), [](str w) { return kv(w, 1); }), add);
take(sort_by(counts, [](val p) { return tuple(-as_long(value(p)), key(p)); }), 5)
count(counts)
sum(values(counts))
