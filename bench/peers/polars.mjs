// polars.mjs -- the Polars side of ember's benchmarks (npm nodejs-polars).
// Usage: POLARS_MAX_THREADS=2 node polars.mjs WORDS_FILE REPS
// Prints "name ms ms ..." lines (every repetition) with the same names as
// duckdb.mjs, so run.sh can put both peers in the same row: word count of
// the file, group-by sum of 1e7 numbers into 1e5 keys (generated and from a
// materialized frame), sort of 1e7 numbers, a filtered count over a
// materialized 1e7 column, and a trivial query; first a "version X" line for the report.
//
// Every query is lazy and ends in collectSync(), so each time includes
// planning and running the whole query, as DuckDB's do; Polars' results stay
// in memory (like DuckDB's temp tables), nothing is printed.
import pl from 'nodejs-polars';
const [file, repsArg] = process.argv.slice(2);
const reps = Number(repsArg || 3);
console.log(`version ${pl.version}`);
const ms = (fn) => { const t = process.hrtime.bigint(); fn(); return Number(process.hrtime.bigint() - t) / 1e6; };
const time = (name, fn, n = reps) => {
  const ts = [];
  for (let r = 0; r < n; r++) ts.push(ms(fn));
  console.log(`${name} ${ts.map((t) => t.toFixed(3)).join(' ')}`);
};

// Word count: the corpus as one string column (separator and quote are bytes
// that never occur, so each line is one field; scanCSV refuses quoteChar
// null), split on ' ', one row per word, count per word.
time('wordcount', () => pl.scanCSV(file, { hasHeader: false, sep: '\x01', quoteChar: '\x02' })
  .select(pl.col('column_1').str.split(' ').alias('w'))
  .explode('w')
  .groupBy('w').agg(pl.len().alias('n'))
  .collectSync());

// The same numbers ember's reduce_by_key benchmark makes: key (i*7919) % 100000, value i.
// A plain JS number becomes a Float64 literal, which would turn the whole
// column into doubles; int() keeps the arithmetic in Int64 like ember's longs.
const int = (n) => pl.lit(n).cast(pl.Int64);
const i = pl.intRange(0, 10000000);
const gen = () => pl.DataFrame({}).lazy()
  .select(i.alias('i'))
  .select(pl.col('i').mul(int(7919)).modulo(int(100000)).alias('k'), pl.col('i').alias('v'));
time('groupby_gen', () => gen().groupBy('k').agg(pl.col('v').sum().alias('s')).collectSync());
const kv = gen().collectSync();
time('groupby_table', () => kv.lazy().groupBy('k').agg(pl.col('v').sum().alias('s')).collectSync());

time('sort', () => pl.DataFrame({}).lazy()
  .select(i.mul(int(7919)).modulo(int(10000000)).alias('x'))
  .sort('x')
  .collectSync());

const nums = pl.DataFrame({}).lazy().select(i.alias('x')).collectSync();
time('filtercount', () => nums.lazy().filter(pl.col('x').modulo(int(7)).eq(int(0))).select(pl.len()).collectSync(), Math.max(reps, 11));

// The smallest query: one literal, planned and collected.
time('select42', () => pl.DataFrame({}).lazy().select(int(42)).collectSync(), 51);
