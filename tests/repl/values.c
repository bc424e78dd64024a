// Values print in Python's repr form (SPEC 4); state lives across inputs.
NONE
1 == 1
42
2.5
1.0
0.1 + 0.2
1e300 * 10
-0.0
"it's"
"say \"hi\"\n"
kv("a", list(1, 2.5, NONE, true))
tuple(1)
list()
str s = "abc";
s
upper(s)
strf("%s-%d", "x", 7)
split("a,b,,c", ",")
to_long("42") + 1
to_double("2.5") * 2
// redefinition shadows; a function sees the session's variables
long n = 10;
long twice(long x) { return 2 * x + n; }
twice(1)
n = 100;
twice(1)
long twice(long x) { return 2 * x; }
twice(1)
typedef struct { double x, y; } point;
point p = {1.5, 2.0};
p.x + p.y
#define SQ(v) ((v) * (v))
SQ(7)
collect(map(range(3), [](long x) { return SQ(x); }))
// captured values are copied when the lambda is made
long k = 2;
ds m = map(range(4), [k](long x) { return x * k; });
k = 50;
collect(m)
double d = 0.5;
collect(map(range(3), [d](long x) { return x + d; }))
ds c = cache(map(range(5), [](long x) { return kv(x % 2, x); }));
count(c)
collect(sort_by_key(group_by_key(c)))
unpersist(c);
num_partitions(c)
