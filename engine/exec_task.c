/* exec_task.c -- one task on an executor: decode the launch message, build
 * the operator tree (streams, chains, sink), run it under a guard, and report
 * the result, or the failure with its cause, back to the driver.
 *
 * The task description's root is a tree of nodes, each {"op": ..., "in": ...}:
 *   sources   range, slice (a blob), text, empty, block (a cached partition,
 *             here or at "ep"), ckpt (a checkpoint file)
 *   readers   shuffle_read, cogroup
 *   combiners concat (coalesce), cartesian
 *   rows      map, filter, flat_map, ... (appended to the chain below them)
 * and any node may carry "store" {ds, level} or "ckpt" (a path): its rows are
 * then kept as a cached block or written as a checkpoint as they pass.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../udf/udf_guard.h"
#include "err.h"
#include "exec.h"
#include "mem.h"
#include "task.h"

/* ------------------------------------------------------------------------ */
/* Services for operators                                                   */
/* ------------------------------------------------------------------------ */

int eng__task_blob(eng_task *t, json_int_t i, const void **p, size_t *n, eng_err *err) {
  if (i < 0 || i >= t->nblobs) return eng_err_set(err, ENG_EPROTO, "ProtocolError: no frame %lld", (long long)i);
  *p = t->blobs[i];
  *n = t->blob_lens[i];
  return 0;
}

int eng__task_cancelled(eng_task *t) { return atomic_load(t->cancel) != 0; }

int64_t eng__task_mem_limit(eng_task *t) { return t->ex->budget * 6 / 10; }

int eng__task_pressure(eng_task *t) {
  int64_t used = eng_mem_in_use(), budget = t->ex->budget;
  if (used <= budget) return 0;
  eng_bs_evict(t->ex->bs, used - budget * 8 / 10);
  return eng_mem_in_use() > budget;
}

eng_blockstore *eng__task_store(eng_task *t) { return t->ex->bs; }
const char *eng__task_dir(eng_task *t) { return t->ex->dir; }

int eng__task_add_batch(eng_task *t, eng_batch *b) {
  if (t->nout == t->capout) {
    int cap = t->capout ? t->capout * 2 : 16;
    eng_batch **v = eng_realloc(t->out_batches, (size_t)cap * sizeof *v);
    if (!v) {
      eng_batch_unref(b);
      return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: results");
    }
    t->out_batches = v;
    t->capout = cap;
  }
  t->out_batches[t->nout++] = b;
  return 0;
}

int eng__task_stored(eng_task *t, int ds, int part, int level, int64_t mem, int64_t disk) {
  if (t->nstored == t->capstored) {
    int cap = t->capstored ? t->capstored * 2 : 4;
    eng_stored *v = eng_realloc(t->stored, (size_t)cap * sizeof *v);
    if (!v) return ENG_ENOMEM;
    t->stored = v;
    t->capstored = cap;
  }
  t->stored[t->nstored++] = (eng_stored){ds, part, level, mem, disk};
  return 0;
}

void eng__task_fetch_failed(eng_task *t, int shuffle, int map, int exec_id) {
  t->ff_shuffle = shuffle;
  t->ff_map = map;
  t->ff_exec = exec_id;
}

eng_val *eng__exec_bcast(eng_exec *ex, long id) {
  for (int i = 0; i < ex->nbcasts; i++)
    if (ex->bcasts[i].id == id) return &ex->bcasts[i].v;
  return NULL;
}

/* Decodes a captures blob: varint count, then per capture a marker (0: an
 * encoded value, 1: a broadcast id) and its payload. */
static int decode_caps(eng_task *t, const void *p, size_t n, eng_val **out, int *out_n,
                       eng_err *err) {
  eng_rd r;
  eng_rd_init(&r, p, n);
  uint64_t k = eng_rd_varint(&r);
  if (r.bad || k > 4096) return eng_err_set(err, ENG_EPROTO, "ProtocolError: bad captures");
  eng_val *v = eng_arena_alloc(t->arena, (k + 1) * sizeof *v);
  if (!v) return eng_err_set(err, ENG_ENOMEM, "MemoryError: captures");
  for (uint64_t i = 0; i < k; i++) {
    int marker = eng_rd_u8(&r);
    if (marker == 1) {
      long id = (long)eng_rd_varint(&r);
      eng_val *b = eng__exec_bcast(t->ex, id);
      if (!b) return eng_err_set(err, ENG_EPROTO, "ProtocolError: unknown broadcast %ld", id);
      v[i].h = ENG_V_BCAST | ((uint64_t)id << 8);
      v[i].p = (uint64_t)(uintptr_t)b;
    } else {
      eng_val x;
      if (eng_val_read(&r, t->arena, &x) < 0)
        return eng_err_set(err, ENG_EPROTO, "ProtocolError: bad captured value");
      v[i] = eng_val_copy(t->arena, x);
    }
  }
  *out = v;
  *out_n = (int)k;
  return 0;
}

int eng__task_udf(eng_task *t, json_t *ref, eng_tudf *out, eng_err *err) {
  const char *hex = json_string_value(json_object_get(ref, "h"));
  if (!hex) return eng_err_set(err, ENG_EPROTO, "ProtocolError: UDF reference without hash");
  uint64_t h = strtoull(hex, NULL, 16);
  udf_fn *fn = udf_cache_find(t->ex->udfs, h);
  if (!fn) return eng_err_set(err, ENG_EPROTO, "ProtocolError: UDF %s was not sent", hex);
  memset(out, 0, sizeof *out);
  out->fn = fn;
  size_t wl = strlen(fn->def->name) + 8;
  out->who = eng_arena_alloc(t->arena, wl);
  if (!out->who) return eng_err_set(err, ENG_ENOMEM, "MemoryError: UDF");
  snprintf(out->who, wl, "UDF %s", fn->def->name);
  json_t *cj = json_object_get(ref, "caps");
  if (cj) {
    const void *p = NULL;
    size_t n = 0;
    int nc = 0;
    ENG_TRY(eng__task_blob(t, json_integer_value(cj), &p, &n, err));
    ENG_TRY(decode_caps(t, p, n, &out->caps, &nc, err));
    if (nc != fn->def->ncaps)
      return eng_err_set(err, ENG_EPROTO, "ProtocolError: %s expects %d captures, got %d",
                         fn->def->name, fn->def->ncaps, nc);
  }
  return 0;
}

eng_val eng__tudf_call(const eng_tudf *f, const void *owner, const eng_val *args) {
  udf_set_caps(f->fn, owner, f->caps);
  udf_enter(f->who);
  eng_val r = f->fn->call(args);
  udf_leave();
  return r;
}

/* acc_add() inside a task: deltas per accumulator, sent with the result. */
static void acc_cb(void *ctx, eng_val acc, eng_val x) {
  eng_task *t = ctx;
  long id = ENG_VLEN(acc);
  for (int i = 0; i < t->naccs; i++) {
    if (t->accs[i].id != id) continue;
    eng_val r;
    eng_err e;
    if (eng_val_add(t->arena, t->accs[i].v, x, &r, &e) < 0) eng__raise(e.code, "%s", e.msg);
    t->accs[i].v = eng_val_copy(t->arena, r);
    return;
  }
  if (t->naccs == t->capaccs) {
    int cap = t->capaccs ? t->capaccs * 2 : 4;
    eng_acc_delta *v = eng_realloc(t->accs, (size_t)cap * sizeof *v);
    if (!v) eng__raise(ENG_ENOMEM, "MemoryError: accumulator");
    t->accs = v;
    t->capaccs = cap;
  }
  t->accs[t->naccs].id = id;
  t->accs[t->naccs].v = eng_val_copy(t->arena, x);
  t->naccs++;
}

/* ------------------------------------------------------------------------ */
/* Building the operator tree                                               */
/* ------------------------------------------------------------------------ */

typedef struct fetch_stream {
  eng_stream base;
  eng_fetch *f;
  int ds, part;
} fetch_stream;

static int fetch_stream_next(eng_stream *st, eng_batch **out) {
  fetch_stream *s = (fetch_stream *)st;
  int rc = eng__fetch_next(s->f, out, &st->t->err);
  if (rc == ENG_EFETCH) st->t->ff_ds = s->ds, st->t->ff_part = s->part;
  return rc;
}

static void fetch_stream_close(eng_stream *st) {
  fetch_stream *s = (fetch_stream *)st;
  eng__fetch_close(s->f);
  eng_free(s);
}

static eng_stream *block_source(eng_task *t, json_t *node, eng_err *err) {
  int ds = (int)json_integer_value(json_object_get(node, "ds"));
  int part = (int)json_integer_value(json_object_get(node, "part"));
  const char *ep = json_string_value(json_object_get(node, "ep"));
  /* A block that is gone (dropped for memory, its executor lost) is
   * reported, so the driver stops counting it as cached. */
  t->ff_ds = ds;
  t->ff_part = part;
  int local = !ep || !ep[0] || strcmp(ep, t->ex->block_ep) == 0;
  if (local) {
    /* In memory: the batches themselves. On disk: streamed a chunk at a
     * time like a remote block, so a partition bigger than memory is not
     * loaded whole. */
    eng_batch **bs;
    int n;
    int rc = eng_bs_get_rdd_mem(t->ex->bs, ds, part, &bs, &n, err);
    if (rc < 0) return NULL;
    if (rc == 0) {
      t->ff_ds = -1;
      return eng__src_batches(t, bs, n);
    }
    ep = NULL;
  }
  char id[64];
  snprintf(id, sizeof id, "rdd_%d_%d", ds, part);
  fetch_stream *s = eng_calloc(1, sizeof *s);
  if (!s) {
    eng_err_set(err, ENG_ENOMEM, "MemoryError: fetch");
    return NULL;
  }
  s->f = eng__fetch_open(t, ep, id, err);
  if (!s->f) {
    eng_free(s);
    return NULL;
  }
  t->ff_ds = -1;
  s->ds = ds;
  s->part = part;
  s->base.next = fetch_stream_next;
  s->base.close = fetch_stream_close;
  s->base.t = t;
  return &s->base;
}

static eng_stream *slice_source(eng_task *t, json_t *node, eng_err *err) {
  const void *p = NULL;
  size_t n = 0;
  if (eng__task_blob(t, json_integer_value(json_object_get(node, "blob")), &p, &n, err) < 0)
    return NULL;
  eng_batch *b = eng_batch_parse(p, n, NULL, NULL, NULL, err);
  if (!b) return NULL;
  eng_batch **v = eng_malloc(sizeof *v);
  if (!v) {
    eng_batch_unref(b);
    eng_err_set(err, ENG_ENOMEM, "MemoryError: slice");
    return NULL;
  }
  v[0] = b;
  return eng__src_batches(t, v, 1);
}

static eng_stream *build_source(eng_task *t, const char *op, json_t *node, eng_err *err) {
  if (strcmp(op, "range") == 0) {
    eng_stream *s = eng__src_range(t, json_integer_value(json_object_get(node, "start")),
                                   json_integer_value(json_object_get(node, "end")),
                                   json_integer_value(json_object_get(node, "step")));
    if (!s) eng_err_set(err, ENG_ENOMEM, "MemoryError: range");
    return s;
  }
  if (strcmp(op, "slice") == 0) return slice_source(t, node, err);
  if (strcmp(op, "text") == 0) {
    const char *path = json_string_value(json_object_get(node, "path"));
    if (!path) {
      eng_err_set(err, ENG_EPROTO, "ProtocolError: text source without path");
      return NULL;
    }
    return eng__src_text(t, path, json_integer_value(json_object_get(node, "start")),
                         json_integer_value(json_object_get(node, "len")),
                         json_integer_value(json_object_get(node, "size")),
                         (int)json_integer_value(json_object_get(node, "codec")), err);
  }
  if (strcmp(op, "empty") == 0) {
    eng_stream *s = eng__src_batches(t, NULL, 0);
    if (!s) eng_err_set(err, ENG_ENOMEM, "MemoryError: source");
    return s;
  }
  if (strcmp(op, "block") == 0) return block_source(t, node, err);
  if (strcmp(op, "ckpt") == 0) {
    const char *path = json_string_value(json_object_get(node, "path"));
    return path ? eng__src_file(t, path, err) : NULL;
  }
  if (strcmp(op, "shuffle_read") == 0) return eng__shuffle_reader(t, node, err);
  if (strcmp(op, "cogroup") == 0) return eng__cogroup_reader(t, node, err);
  if (strcmp(op, "concat") == 0 || strcmp(op, "cartesian") == 0) {
    json_t *ins = json_object_get(node, "in");
    size_t n = json_array_size(ins);
    if (!json_is_array(ins) || (strcmp(op, "cartesian") == 0 && n != 2)) {
      eng_err_set(err, ENG_EPROTO, "ProtocolError: bad %s inputs", op);
      return NULL;
    }
    eng_stream **v = eng_calloc(n + 1, sizeof *v);
    if (!v) {
      eng_err_set(err, ENG_ENOMEM, "MemoryError: inputs");
      return NULL;
    }
    for (size_t i = 0; i < n; i++) {
      v[i] = eng__build_stream(t, json_array_get(ins, i), err);
      if (!v[i]) {
        for (size_t j = 0; j < i; j++) v[j]->close(v[j]);
        eng_free(v);
        return NULL;
      }
    }
    if (strcmp(op, "cartesian") == 0) {
      eng_stream *s = eng__src_cartesian(t, v[0], v[1]);
      eng_free(v);
      if (!s) eng_err_set(err, ENG_ENOMEM, "MemoryError: cartesian");
      return s;
    }
    eng_stream *s = eng__src_concat(t, v, (int)n);
    if (!s) eng_err_set(err, ENG_ENOMEM, "MemoryError: concat");
    return s;
  }
  return NULL;
}

eng_stream *eng__build_stream(eng_task *t, json_t *node, eng_err *err) {
  const char *op = json_string_value(json_object_get(node, "op"));
  if (!op) {
    eng_err_set(err, ENG_EPROTO, "ProtocolError: node without op");
    return NULL;
  }
  eng_stream *s;
  json_t *in = json_object_get(node, "in");
  if (json_is_object(in)) {
    /* A row operation: extend the chain below it. */
    eng_stream *below = eng__build_stream(t, in, err);
    if (!below) return NULL;
    eng_chain *c = eng__as_chain(below);
    if (!c && !(c = eng__chain_new(t, below))) {
      eng_err_set(err, ENG_ENOMEM, "MemoryError: chain");
      return NULL;
    }
    s = eng__chain_stream(c);
    if (eng__chain_add(c, node, err) < 0) {
      s->close(s);
      return NULL;
    }
  } else {
    err->code = 0;
    s = build_source(t, op, node, err);
    if (!s) {
      if (err->code == 0) eng_err_set(err, ENG_EPROTO, "ProtocolError: unknown source '%s'", op);
      return NULL;
    }
  }
  json_t *store = json_object_get(node, "store");
  const char *ckpt = json_string_value(json_object_get(node, "ckpt"));
  if (store || ckpt) {
    eng_chain *c = eng__as_chain(s);
    if (!c && !(c = eng__chain_new(t, s))) {
      eng_err_set(err, ENG_ENOMEM, "MemoryError: chain");
      return NULL;
    }
    s = eng__chain_stream(c);
    int ds = (int)json_integer_value(json_object_get(node, "ds"));
    int level = store ? (int)json_integer_value(json_object_get(store, "level")) : 0;
    if (eng__chain_add_store(c, ds, t->partition, level, ckpt) < 0) {
      eng_err_copy(err, &t->err);
      s->close(s);
      return NULL;
    }
  }
  return s;
}

eng_sink *eng__build_sink(eng_task *t, json_t *sink, eng_err *err) {
  const char *kind = json_string_value(json_object_get(sink, "kind"));
  if (kind && strcmp(kind, "shuffle") == 0) return eng__shuffle_writer(t, sink, err);
  if (kind && strcmp(kind, "result") == 0) return eng__result_sink(t, sink, err);
  eng_err_set(err, ENG_EPROTO, "ProtocolError: unknown sink '%s'", kind ? kind : "?");
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Running a task                                                           */
/* ------------------------------------------------------------------------ */

/* Compiles the UDFs and stores the broadcasts the driver sent along. */
static int register_shipped(eng_exec *ex, eng_task *t, eng_err *err) {
  json_t *udfs = json_object_get(t->desc, "udfs");
  size_t i;
  json_t *j;
  double ms0 = 0, ms1 = 0;
  udf_cache_stats(ex->udfs, NULL, &ms0);
  json_array_foreach(udfs, i, j) {
    udf_def *d = udf_def_from_json(j, err);
    if (!d) return err->code;
    udf_fn *fn = udf_cache_get(ex->udfs, d, err);
    udf_def_free(d);
    if (!fn) return err->code;
  }
  udf_cache_stats(ex->udfs, NULL, &ms1);
  t->compile_ms = ms1 - ms0;
  json_t *bcasts = json_object_get(t->desc, "bcasts");
  json_array_foreach(bcasts, i, j) {
    long id = (long)json_integer_value(json_object_get(j, "id"));
    if (eng__exec_bcast(ex, id)) continue;
    const void *p = NULL;
    size_t n = 0;
    ENG_TRY(eng__task_blob(t, json_integer_value(json_object_get(j, "blob")), &p, &n, err));
    eng_rd r;
    eng_rd_init(&r, p, n);
    eng_val v;
    if (eng_val_read(&r, ex->bcast_arena, &v) < 0)
      return eng_err_set(err, ENG_EPROTO, "ProtocolError: bad broadcast value");
    if (ex->nbcasts == ex->capbcasts) {
      int cap = ex->capbcasts ? ex->capbcasts * 2 : 8;
      eng_bcast_ent *b = eng_realloc(ex->bcasts, (size_t)cap * sizeof *b);
      if (!b) return eng_err_set(err, ENG_ENOMEM, "MemoryError: broadcast");
      ex->bcasts = b;
      ex->capbcasts = cap;
    }
    ex->bcasts[ex->nbcasts].id = id;
    ex->bcasts[ex->nbcasts].v = eng_val_copy(ex->bcast_arena, v);
    ex->nbcasts++;
  }
  return 0;
}

/* The operators of a running task, kept outside the guarded frame so they
 * can be closed after an unwind. */
typedef struct running {
  eng_stream *root;
  eng_sink *sink;
  int sink_attached;
} running;

static const char *sig_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "signal";
  }
}

static void free_frame_batch(void *data, void *hint) {
  (void)data;
  eng_batch_unref(hint);
}

static double task_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void send_done(eng_exec *ex, eng_task *t, int rc, double run_ms, void *out) {
  json_t *h = json_pack("{s:s, s:I, s:b}", "t", "done", "tid", (json_int_t)t->tid, "ok", rc == 0);
  int nfr = 0, cap = t->nout + 4;
  eng_frame *fr = eng_calloc((size_t)cap, sizeof *fr);
  eng_buf accs;
  eng_buf_init(&accs);
  if (rc == 0 && fr) {
    if (t->result.len) {
      json_object_set_new(h, "result", json_integer(nfr));
      fr[nfr++] = (eng_frame){t->result.data, t->result.len, NULL, NULL};
    }
    json_t *bl = json_array();
    for (int i = 0; i < t->nout; i++) {
      json_array_append_new(bl, json_integer(nfr));
      fr[nfr++] = (eng_frame){t->out_batches[i]->buf, t->out_batches[i]->len, free_frame_batch,
                              t->out_batches[i]};
    }
    t->nout = 0; /* the frames own them now */
    json_object_set_new(h, "batches", bl);
    if (t->naccs) {
      eng_vlist l;
      eng_vlist_init(&l, t->arena);
      for (int i = 0; i < t->naccs; i++)
        eng_vlist_push(&l, eng_pair(t->arena, eng_long(t->accs[i].id), t->accs[i].v));
      eng_val_write(&accs, eng_vlist_finish(&l, ENG_V_LIST));
      json_object_set_new(h, "accs", json_integer(nfr));
      fr[nfr++] = (eng_frame){accs.data, accs.len, NULL, NULL};
    }
    if (t->map_sizes) {
      json_t *ms = json_array();
      for (int i = 0; i < t->map_nparts; i++) json_array_append_new(ms, json_integer(t->map_sizes[i]));
      json_object_set_new(h, "map_sizes", ms);
    }
  } else {
    json_object_set_new(h, "code", json_integer(t->err.code ? t->err.code : ENG_ERROR));
    json_object_set_new(h, "err", json_string(t->err.msg[0] ? t->err.msg : "Error: task failed"));
    if (t->ff_shuffle >= 0)
      json_object_set_new(h, "ff", json_pack("{s:i, s:i, s:i}", "shuffle", t->ff_shuffle, "map",
                                              t->ff_map, "exec", t->ff_exec));
    else if (t->ff_ds >= 0 && t->err.code == ENG_EFETCH)
      json_object_set_new(h, "ffb", json_pack("[i, i]", t->ff_ds, t->ff_part));
  }
  /* Blocks stored are reported even on failure: they exist. */
  json_t *st = json_array();
  for (int i = 0; i < t->nstored; i++) {
    eng_stored *s = &t->stored[i];
    json_array_append_new(st, json_pack("[i, i, i, I, I]", s->ds, s->part, s->level,
                                        (json_int_t)s->mem, (json_int_t)s->disk));
  }
  json_object_set_new(h, "stored", st);
  json_object_set_new(h, "metrics",
                      json_pack("{s:I, s:I, s:I, s:I, s:f, s:f}", "rows_in", (json_int_t)t->rows_in,
                                "shuffle_read", (json_int_t)t->shuffle_read, "shuffle_written",
                                (json_int_t)t->shuffle_written, "spilled", (json_int_t)t->spilled,
                                "run_ms", run_ms, "compile_ms", t->compile_ms));
  eng_msg_send(out, NULL, 0, h, fr, fr ? nfr : 0, 0, NULL);
  json_decref(h);
  eng_free(fr);
  eng_buf_free(&accs);
  (void)ex;
}

/* Turns a guard's error into the task's: "SIGSEGV in UDF f (partition 3)",
 * "TypeError: expected int, got str in UDF f (partition 3)". */
static void guard_error(eng_task *t, udf_guard *g) {
  char msg[ENG_ERR_MAX + 512];
  if (g->sig) {
    snprintf(msg, sizeof msg, "%s in %s (partition %d)", sig_name(g->sig),
             g->where ? g->where : "ember", t->partition);
    eng_err_set(&t->err, ENG_ECRASH, "%s", msg);
  } else if (g->err.code == ENG_ECANCEL) {
    eng_err_set(&t->err, ENG_ECANCEL, "Cancelled: job cancelled");
  } else if (g->where) {
    snprintf(msg, sizeof msg, "%s in %s (partition %d)", g->err.msg, g->where, t->partition);
    eng_err_set(&t->err, g->err.code ? g->err.code : ENG_ERROR, "%s", msg);
  } else {
    eng_err_copy(&t->err, &g->err);
  }
}

void eng__exec_run_task(eng_exec *ex, eng_msg *m, void *out) {
  double t0 = task_now_ms();
  eng_task *t = eng_calloc(1, sizeof *t);
  running *r = eng_calloc(1, sizeof *r);
  if (!t || !r) {
    eng_free(t);
    eng_free(r);
    return;
  }
  t->ex = ex;
  t->desc = m->hdr;
  t->tid = json_integer_value(json_object_get(m->hdr, "tid"));
  t->job = (int)json_integer_value(json_object_get(m->hdr, "job"));
  t->stage = (int)json_integer_value(json_object_get(m->hdr, "stage"));
  t->partition = (int)json_integer_value(json_object_get(m->hdr, "part"));
  t->attempt = (int)json_integer_value(json_object_get(m->hdr, "attempt"));
  t->cancel = &ex->cancel;
  t->ff_shuffle = -1;
  t->ff_ds = -1;
  t->nblobs = m->nframes;
  t->blobs = eng_calloc((size_t)m->nframes + 1, sizeof *t->blobs);
  t->blob_lens = eng_calloc((size_t)m->nframes + 1, sizeof *t->blob_lens);
  for (int i = 0; t->blobs && t->blob_lens && i < m->nframes; i++) {
    t->blobs[i] = zmq_msg_data(&m->frames[i]);
    t->blob_lens[i] = zmq_msg_size(&m->frames[i]);
  }
  t->arena = eng_arena_new(0);
  t->scratch = eng_arena_new(1 << 20);
  eng_buf_init(&t->result);
  int rc = 0;
  if (!t->blobs || !t->blob_lens || !t->arena || !t->scratch)
    rc = eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: task");
  eng_arena *old = eng_arena_set_current(t->scratch);
  udf_set_acc(acc_cb, t);
  udf_guard g;
  if (rc == 0 && UDF_TRY(&g)) {
    rc = register_shipped(ex, t, &t->err);
    if (rc == 0) {
      r->root = eng__build_stream(t, json_object_get(m->hdr, "root"), &t->err);
      if (!r->root) rc = t->err.code ? t->err.code : ENG_ERROR;
    }
    if (rc == 0) {
      r->sink = eng__build_sink(t, json_object_get(m->hdr, "sink"), &t->err);
      if (!r->sink) rc = t->err.code ? t->err.code : ENG_ERROR;
    }
    if (rc == 0) {
      eng_chain *c = eng__as_chain(r->root);
      if (!c) {
        c = eng__chain_new(t, r->root);
        r->root = c ? eng__chain_stream(c) : NULL;
      }
      if (!c) {
        rc = eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: chain");
      } else {
        r->sink_attached = 1;
        rc = eng__chain_run(c, r->sink);
      }
    }
    udf_guard_pop(&g);
  } else if (rc == 0) {
    /* Unwound from user code, which may have run with another arena
     * current (a step's own): back to the task's before anything frees it. */
    eng_arena_set_current(t->scratch);
    guard_error(t, &g);
    rc = t->err.code ? t->err.code : ENG_ERROR;
  }
  udf_set_acc(NULL, NULL);
  udf_set_emit(NULL, NULL);
  if (rc < 0 && t->err.code == 0) eng_err_set(&t->err, rc, "Error: task failed (%d)", rc);
  /* Close under a guard too: a close after a crash must not crash us. */
  udf_guard g2;
  if (UDF_TRY(&g2)) {
    if (r->root) r->root->close(r->root);
    if (r->sink && !r->sink_attached && r->sink->close) r->sink->close(r->sink);
    udf_guard_pop(&g2);
  }
  fflush(NULL); /* the UDF's printf output reaches the session before the task's end */
  send_done(ex, t, rc, task_now_ms() - t0, out);
  eng_arena_set_current(old);
  for (int i = 0; i < t->nout; i++) eng_batch_unref(t->out_batches[i]);
  eng_free(t->out_batches);
  eng_free(t->accs);
  eng_free(t->stored);
  eng_free(t->map_sizes);
  eng_buf_free(&t->result);
  eng_arena_free(t->arena);
  eng_arena_free(t->scratch);
  eng_free(t->blobs);
  eng_free(t->blob_lens);
  eng_free(t);
  eng_free(r);
}
