int *p = 0;
*p = 5;
collect(range(3))
long f(long x) {
  return x + y;
}
collect(map(parallelize(list("a", "b")), [](long x) { return x * 2; }))
collect(map(range(5), [](long x) { long *q = 0; return *q + x; }))
count(range(10))
