/* taskgen.c -- turning lineage into task descriptions: the node tree that
 * computes one partition, the shuffle writer of a map task, and everything
 * the target executor needs that it does not have yet (UDF source,
 * broadcast values), each sent to an executor once.
 *
 * Decisions made here, per partition and per target executor: a partition
 * cached on the target is read locally, one cached elsewhere is fetched from
 * that executor, anything else is recomputed from its parents (and stored
 * on the way when the dataset is persisted); a checkpointed dataset is read
 * from its files and its lineage is not looked at.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "mem.h"
#include "session_int.h"
#include "val.h"

void eng__taskgen_init(eng_taskgen *g, eng_session *s, eng_execinfo *ex) {
  memset(g, 0, sizeof *g);
  g->s = s;
  g->ex = ex;
  g->udfs = json_array();
  g->bcasts = json_array();
  g->ckpt_ds = -1;
}

void eng__taskgen_free(eng_taskgen *g) {
  for (int i = 0; i < g->nowned; i++) eng_free(g->owned[i]);
  eng_free(g->owned);
  eng_free(g->frames);
  json_decref(g->udfs);
  json_decref(g->bcasts);
}

static int add_frame(eng_taskgen *g, const void *data, size_t len) {
  if (g->nframes == g->capframes) {
    int cap = g->capframes ? g->capframes * 2 : 8;
    eng_frame *v = eng_realloc(g->frames, (size_t)cap * sizeof *v);
    if (!v) return -1;
    g->frames = v;
    g->capframes = cap;
  }
  g->frames[g->nframes] = (eng_frame){data, len, NULL, NULL};
  return g->nframes++;
}

/* A frame over memory that outlives the send (no copy). */
static int ref_frame(eng_taskgen *g, const void *data, size_t len) { return add_frame(g, data, len); }

int eng__taskgen_blob(eng_taskgen *g, const void *data, size_t len) {
  char *copy = eng_malloc(len + 1);
  char **v = eng_realloc(g->owned, (size_t)(g->nowned + 1) * sizeof *v);
  if (!copy || !v) {
    eng_free(copy);
    if (v) g->owned = v;
    return -1;
  }
  g->owned = v;
  if (len) memcpy(copy, data, len);
  g->owned[g->nowned++] = copy;
  return add_frame(g, copy, len);
}

int eng__taskgen_val(eng_taskgen *g, eng_val v) {
  eng_buf b;
  eng_buf_init(&b);
  eng_val_write(&b, v);
  int i = b.oom ? -1 : eng__taskgen_blob(g, b.data, b.len);
  eng_buf_free(&b);
  return i;
}

static int has_udf(eng_execinfo *ex, uint64_t h) {
  for (int i = 0; i < ex->nudfs; i++)
    if (ex->udfs[i] == h) return 1;
  return 0;
}

static void mark_udf(eng_execinfo *ex, uint64_t h) {
  if (ex->nudfs == ex->capudfs) {
    int cap = ex->capudfs ? ex->capudfs * 2 : 16;
    uint64_t *v = eng_realloc(ex->udfs, (size_t)cap * sizeof *v);
    if (!v) return;
    ex->udfs = v;
    ex->capudfs = cap;
  }
  ex->udfs[ex->nudfs++] = h;
}

static int has_bcast(eng_execinfo *ex, long id) {
  for (int i = 0; i < ex->nbcasts; i++)
    if (ex->bcasts[i] == id) return 1;
  return 0;
}

static void mark_bcast(eng_execinfo *ex, long id) {
  if (ex->nbcasts == ex->capbcasts) {
    int cap = ex->capbcasts ? ex->capbcasts * 2 : 8;
    long *v = eng_realloc(ex->bcasts, (size_t)cap * sizeof *v);
    if (!v) return;
    ex->bcasts = v;
    ex->capbcasts = cap;
  }
  ex->bcasts[ex->nbcasts++] = id;
}

json_t *eng__taskgen_udf(eng_taskgen *g, eng_udf *f) {
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)f->def->hash);
  if (!has_udf(g->ex, f->def->hash)) {
    json_array_append_new(g->udfs, udf_def_to_json(f->def));
    mark_udf(g->ex, f->def->hash);
  }
  json_t *ref = json_pack("{s:s}", "h", hex);
  if (f->ncaps) {
    eng__udf_caps_blob(f);
    json_object_set_new(ref, "caps", json_integer(ref_frame(g, f->caps_blob, f->caps_len)));
    for (int i = 0; i < f->ncaps; i++) {
      if (ENG_VKIND(f->caps[i]) != ENG_V_BCAST) continue;
      long id = ENG_VLEN(f->caps[i]);
      if (has_bcast(g->ex, id)) continue;
      eng_bcast *b = eng__bcast_by_id(g->s, id);
      if (!b) continue;
      json_array_append_new(g->bcasts,
                            json_pack("{s:I, s:i}", "id", (json_int_t)id, "blob",
                                      ref_frame(g, b->blob, b->len)));
      mark_bcast(g->ex, id);
    }
  }
  return ref;
}

/* ------------------------------------------------------------------------ */
/* Nodes                                                                    */
/* ------------------------------------------------------------------------ */

static int fully_cached(const eng_ds *d) {
  if (!d->storage || !d->cached_on) return 0;
  for (int p = 0; p < d->nparts; p++)
    if (d->cached_on[p] < 0) return 0;
  return 1;
}

int eng__direct_shuffles(eng_ds *d, eng_shuffle **out, int max) {
  /* Depth-first over narrow edges; a visited list avoids re-walking shared
   * parents (diamonds through union/cartesian). */
  eng_ds *stack[256], *seen[512];
  int sp = 0, ns = 0, n = 0;
  stack[sp++] = d;
  while (sp > 0) {
    eng_ds *x = stack[--sp];
    int dup = 0;
    for (int i = 0; i < ns; i++) dup |= seen[i] == x;
    if (dup) continue;
    if (ns < 512) seen[ns++] = x;
    if (x->ckpt_done || fully_cached(x)) continue;
    for (int i = 0; i < x->nparents; i++) {
      if (eng__ds_is_wide(x) && x->shuffle_id[i] >= 0) {
        eng_shuffle *sh = eng__shuffle_by_id(x->s, x->shuffle_id[i]);
        int dupsh = 0;
        for (int k = 0; k < n; k++) dupsh |= out[k] == sh;
        if (sh && !dupsh && n < max) out[n++] = sh;
      } else if (sp < 256) {
        stack[sp++] = x->parents[i];
      }
    }
  }
  return n;
}

static json_t *maps_of(eng_taskgen *g, eng_shuffle *sh, int reduce) {
  json_t *maps = json_array();
  for (int m = 0; m < sh->nmaps; m++) {
    eng_execinfo *e = eng__exec_by_id(g->s, sh->map_exec[m]);
    int64_t size = sh->sizes[m] ? sh->sizes[m][reduce] : 0;
    const char *ep = !e || e == g->ex ? "" : e->ep;
    json_array_append_new(maps, json_pack("[i, i, s, I]", m, sh->map_exec[m], ep, (json_int_t)size));
  }
  return maps;
}

json_t *eng__taskgen_agg(eng_taskgen *g, eng_ds *d) {
  eng_shuffle_spec *sp = &d->sh;
  json_t *fs = json_array();
  for (int i = 0; i < 3 && sp->f[i]; i++) json_array_append_new(fs, eng__taskgen_udf(g, sp->f[i]));
  json_t *a = json_pack("{s:i, s:o, s:b}", "agg", sp->agg, "f", fs, "key_whole", sp->key_whole);
  if (sp->agg == ENG_AGG_FOLD || sp->agg == ENG_AGG_AGGREGATE)
    json_object_set_new(a, "zero", json_integer(eng__taskgen_val(g, sp->zero)));
  return a;
}

static json_t *row_node(eng_taskgen *g, eng_ds *d, int p) {
  json_t *n = json_pack("{s:s, s:o}", "op", eng__op_name(d->op),
                        "in", eng__taskgen_node(g, d->parents[0], p));
  if (d->fn) json_object_set_new(n, "udf", eng__taskgen_udf(g, d->fn));
  switch (d->op) {
    case ENG_OP_SAMPLE:
      json_object_set_new(n, "fraction", json_real(d->fraction));
      json_object_set_new(n, "replace", json_boolean(d->with_replacement));
      json_object_set_new(n, "seed", json_integer(d->seed));
      break;
    case ENG_OP_ZIP_INDEX:
      json_object_set_new(n, "offset", json_integer(d->offsets ? d->offsets[p] : 0));
      break;
    case ENG_OP_JOIN_ROWS:
      json_object_set_new(n, "op", json_string("join_rows"));
      json_object_set_new(n, "kind", json_integer(d->join_kind));
      break;
    default:
      break;
  }
  return n;
}

json_t *eng__taskgen_node(eng_taskgen *g, eng_ds *d, int p) {
  eng_session *s = g->s;
  char path[2048];
  if (d->ckpt_done) {
    snprintf(path, sizeof path, "%s/ds-%d/part-%05d", s->ckpt_dir, d->id, p);
    return json_pack("{s:s, s:s}", "op", "ckpt", "path", path);
  }
  json_t *n = NULL;
  if (d->storage && d->cached_on && d->cached_on[p] >= 0) {
    eng_execinfo *e = eng__exec_by_id(s, d->cached_on[p]);
    if (e && e->state == EX_ALIVE) {
      n = json_pack("{s:s, s:i, s:i, s:s}", "op", "block", "ds", d->id, "part", p, "ep",
                    e == g->ex ? "" : e->ep);
      goto checkpoint;
    }
  }
  switch (d->op) {
    case ENG_OP_RANGE: {
      /* Partition p holds elements [p*n/k, (p+1)*n/k) of the range. */
      int64_t len = d->step > 0 ? (d->end > d->start ? (d->end - d->start - 1) / d->step + 1 : 0)
                                : (d->start > d->end ? (d->start - d->end - 1) / -d->step + 1 : 0);
      int64_t a = (int64_t)((__int128)len * p / d->nparts), b = (int64_t)((__int128)len * (p + 1) / d->nparts);
      n = json_pack("{s:s, s:I, s:I, s:I}", "op", "range", "start",
                    (json_int_t)(d->start + a * d->step), "end",
                    (json_int_t)(d->start + b * d->step), "step", (json_int_t)d->step);
      break;
    }
    case ENG_OP_PARALLELIZE:
      n = json_pack("{s:s, s:i}", "op", "slice", "blob",
                    ref_frame(g, d->slices[p]->buf, d->slices[p]->len));
      break;
    case ENG_OP_TEXT: {
      eng_text_split *sp = &d->splits[p];
      n = json_pack("{s:s, s:s, s:I, s:I, s:I, s:i}", "op", "text", "path", sp->path, "start",
                    (json_int_t)sp->start, "len", (json_int_t)sp->len, "size",
                    (json_int_t)sp->file_size, "codec", (int)sp->codec);
      break;
    }
    case ENG_OP_EMPTY:
      n = json_pack("{s:s}", "op", "empty");
      break;
    case ENG_OP_UNION: {
      int n0 = d->parents[0]->nparts;
      json_t *in = p < n0 ? eng__taskgen_node(g, d->parents[0], p)
                          : eng__taskgen_node(g, d->parents[1], p - n0);
      /* "concat" of one input: a node of its own for store/ckpt to hang on. */
      n = json_pack("{s:s, s:[o]}", "op", "concat", "in", in);
      break;
    }
    case ENG_OP_COALESCE: {
      json_t *ins = json_array();
      for (int q = d->coalesce_from[p]; q < d->coalesce_from[p + 1]; q++)
        json_array_append_new(ins, eng__taskgen_node(g, d->parents[0], q));
      n = json_pack("{s:s, s:o}", "op", "concat", "in", ins);
      break;
    }
    case ENG_OP_CARTESIAN: {
      int nb = d->parents[1]->nparts;
      n = json_pack("{s:s, s:[o, o]}", "op", "cartesian", "in",
                    eng__taskgen_node(g, d->parents[0], p / nb),
                    eng__taskgen_node(g, d->parents[1], p % nb));
      break;
    }
    case ENG_OP_SHUFFLED: {
      eng_shuffle *sh = eng__shuffle_by_id(s, d->shuffle_id[0]);
      n = json_pack("{s:s, s:i, s:i, s:o}", "op", "shuffle_read", "shuffle", sh->id, "reduce", p,
                    "maps", maps_of(g, sh, p));
      if (d->sh.agg != ENG_AGG_NONE) {
        json_object_set_new(n, "agg", eng__taskgen_agg(g, d));
        json_object_set_new(n, "combined", json_boolean(d->sh.map_side_combine));
      }
      if (d->sh.sort) {
        json_t *so = json_pack("{s:b}", "asc", d->sh.ascending);
        if (d->sh.keyfn) json_object_set_new(so, "key", eng__taskgen_udf(g, d->sh.keyfn));
        json_object_set_new(n, "sort", so);
      }
      break;
    }
    case ENG_OP_COGROUP: {
      json_t *ins = json_array();
      for (int i = 0; i < 2; i++) {
        if (d->shuffle_id[i] >= 0) {
          eng_shuffle *sh = eng__shuffle_by_id(s, d->shuffle_id[i]);
          json_array_append_new(ins, json_pack("{s:i, s:i, s:o}", "shuffle", sh->id, "reduce", p,
                                               "maps", maps_of(g, sh, p)));
        } else {
          json_array_append_new(ins, eng__taskgen_node(g, d->parents[i], p));
        }
      }
      n = json_pack("{s:s, s:o, s:[b, b]}", "op", "cogroup", "inputs", ins, "whole",
                    d->cogroup_whole[0], d->cogroup_whole[1]);
      break;
    }
    default:
      n = row_node(g, d, p);
      break;
  }
  if (d->storage) {
    json_object_set_new(n, "store", json_pack("{s:i}", "level", d->storage));
    json_object_set_new(n, "ds", json_integer(d->id));
  }
checkpoint:
  if (g->ckpt_ds == d->id) {
    snprintf(path, sizeof path, "%s/ds-%d/part-%05d", s->ckpt_dir, d->id, p);
    json_object_set_new(n, "ckpt", json_string(path));
    json_object_set_new(n, "ds", json_integer(d->id));
  }
  return n;
}

json_t *eng__taskgen_shuffle_sink(eng_taskgen *g, eng_shuffle *sh, int map) {
  eng_ds *d = sh->dep;
  json_t *k = json_pack("{s:s, s:i, s:i, s:i}", "kind", "shuffle", "shuffle", sh->id, "map", map,
                        "nparts", sh->nreduce);
  if (d->op == ENG_OP_COGROUP) {
    json_object_set_new(k, "part", json_integer(ENG_PART_HASH));
    json_object_set_new(k, "key_whole", json_boolean(d->cogroup_whole[sh->parent]));
    return k;
  }
  eng_shuffle_spec *sp = &d->sh;
  json_object_set_new(k, "part", json_integer(sp->part_kind));
  json_object_set_new(k, "key_whole", json_boolean(sp->key_whole));
  json_object_set_new(k, "asc", json_boolean(sp->ascending));
  if (sp->keyfn) json_object_set_new(k, "key", eng__taskgen_udf(g, sp->keyfn));
  if (sp->part_kind == ENG_PART_RANGE) {
    eng_val l = eng_seqv(ENG_V_LIST, sp->bounds, sp->nbounds);
    json_object_set_new(k, "bounds", json_integer(eng__taskgen_val(g, l)));
  }
  if (sp->map_side_combine && sp->agg != ENG_AGG_NONE)
    json_object_set_new(k, "combine", eng__taskgen_agg(g, d));
  return k;
}
