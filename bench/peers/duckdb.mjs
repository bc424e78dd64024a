// duckdb.mjs -- the DuckDB side of ember's benchmarks (npm @duckdb/node-api).
// Usage: node duckdb.mjs WORDS_FILE THREADS REPS
// Prints "name ms ms ..." lines (every repetition) for: word count of the
// file, GROUP BY of 1e7 numbers into 1e5 keys (generated and from a loaded
// table), ORDER BY of 1e7 numbers, a filtered count over a loaded 1e7 table,
// and SELECT 42; first a
// "version vX.Y.Z" line (DuckDB's own, not the npm wrapper's) for the report.
import { DuckDBInstance } from '@duckdb/node-api';
const [file, thr, repsArg] = process.argv.slice(2);
const reps = Number(repsArg || 3);
const inst = await DuckDBInstance.create(':memory:', { threads: String(thr || 2) });
const con = await inst.connect();
const run = (sql) => con.runAndReadAll(sql);
console.log(`version ${(await run('SELECT version()')).getRows()[0][0]}`);
const ms = async (fn) => { const t = process.hrtime.bigint(); await fn(); return Number(process.hrtime.bigint() - t) / 1e6; };
const time = async (name, sql, n = reps, setup = null) => {
  const ts = [];
  for (let r = 0; r < n; r++) { if (setup) await run(setup); ts.push(await ms(() => run(sql))); }
  console.log(`${name} ${ts.map((t) => t.toFixed(3)).join(' ')}`);
};
const src = `read_csv('${file}', columns={'line':'VARCHAR'}, header=false, delim='\\x01', quote='', escape='')`;
await time('wordcount', `CREATE OR REPLACE TEMP TABLE wc AS SELECT w, count(*) AS n FROM (SELECT unnest(string_split(line, ' ')) AS w FROM ${src}) GROUP BY w`);
// The same numbers ember's reduce_by_key benchmark makes: key (i*7919) % 100000, value i.
const gen = 'SELECT (i * 7919) % 100000 AS k, i AS v FROM range(10000000) t(i)';
await time('groupby_gen', `CREATE OR REPLACE TEMP TABLE g AS SELECT k, sum(v) AS s FROM (${gen}) GROUP BY k`);
await run(`CREATE OR REPLACE TABLE kv AS ${gen}`);
await time('groupby_table', 'CREATE OR REPLACE TEMP TABLE g AS SELECT k, sum(v) AS s FROM kv GROUP BY k');
await time('sort', 'CREATE OR REPLACE TEMP TABLE s AS SELECT (i * 7919) % 10000000 AS x FROM range(10000000) t(i) ORDER BY x');
await run('CREATE OR REPLACE TABLE nums AS SELECT i AS x FROM range(10000000) t(i)');
await time('filtercount', 'SELECT count(*) FROM nums WHERE x % 7 = 0', Math.max(reps, 11));
await time('select42', 'SELECT 42', 51);
