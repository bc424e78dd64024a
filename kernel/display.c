/* display.c -- show() tables as HTML and the job progress bar's text.
 *
 * Invariant: a table cell reads exactly as in the text table, because its
 * text comes from the engine's own formatter (eng_table_format over a
 * one-cell table), not from a second copy of its rules.
 */
#include "display.h"

#include <stdio.h>
#include <string.h>

void krn_html_escape(eng_buf *out, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    switch (s[i]) {
      case '&':
        eng_buf_puts(out, "&amp;");
        break;
      case '<':
        eng_buf_puts(out, "&lt;");
        break;
      case '>':
        eng_buf_puts(out, "&gt;");
        break;
      case '"':
        eng_buf_puts(out, "&quot;");
        break;
      case '\'':
        eng_buf_puts(out, "&#39;");
        break;
      default:
        eng_buf_putc(out, s[i]);
    }
  }
}

/* The text of one cell as show() prints it: the engine formats a one-cell
 * table with an empty header, and the cell is the row line between its
 * bars, less the padding to the minimum width of 3. */
static void cell_text(eng_val v, eng_buf *out) {
  eng_table one = {.ncols = 1, .colnames = {"", ""}, .nrows = 1, .cells = &v, .more = 0};
  eng_buf b;
  eng_buf_init(&b);
  if (eng_table_format(&one, 20, &b) == 0 && b.data) {
    /* "+---+\n|   |\n+---+\n|  x|\n+---+\n": the fourth line is the row. */
    const char *p = b.data;
    for (int line = 0; line < 3 && p; line++) {
      p = strchr(p, '\n');
      if (p) p++;
    }
    if (p && *p == '|') {
      p++;
      const char *end = strchr(p, '\n');
      if (end && end > p && end[-1] == '|') {
        end--;
        /* Padding only exists when the cell is narrower than 3 columns. */
        long chars = 0;
        for (const char *q = p; q < end; q++) chars += ((unsigned char)*q & 0xc0) != 0x80;
        if (chars == 3)
          while (p < end && *p == ' ') p++;
        krn_html_escape(out, p, (size_t)(end - p));
      }
    }
  }
  eng_buf_free(&b);
}

int krn_table_html(const eng_table *t, eng_buf *out) {
  eng_buf_puts(out,
               "<table border=\"1\" class=\"dataframe ember-table\">\n<thead>\n"
               "<tr style=\"text-align: right;\">");
  for (int c = 0; c < t->ncols; c++) {
    eng_buf_puts(out, "<th>");
    krn_html_escape(out, t->colnames[c], strlen(t->colnames[c]));
    eng_buf_puts(out, "</th>");
  }
  eng_buf_puts(out, "</tr>\n</thead>\n<tbody>\n");
  for (int r = 0; r < t->nrows; r++) {
    eng_buf_puts(out, "<tr>");
    for (int c = 0; c < t->ncols; c++) {
      eng_buf_puts(out, "<td style=\"text-align: right;\">");
      cell_text(t->cells[r * t->ncols + c], out);
      eng_buf_puts(out, "</td>");
    }
    eng_buf_puts(out, "</tr>\n");
  }
  eng_buf_puts(out, "</tbody>\n</table>\n");
  if (t->more)
    eng_buf_printf(out, "<p>only showing top %d row%s</p>\n", t->nrows, t->nrows == 1 ? "" : "s");
  return out->oom ? ENG_ENOMEM : 0;
}

/* ------------------------------------------------------------------------ */
/* The progress bar                                                         */
/* ------------------------------------------------------------------------ */

static void summary(const krn_job *j, eng_buf *out) {
  eng_buf_printf(out, "%s (%d stage%s, %ld task%s, %.1f s)", j->desc[0] ? j->desc : "job",
                 j->stages, j->stages == 1 ? "" : "s", j->tasks_done, j->tasks_done == 1 ? "" : "s",
                 j->elapsed_ms / 1000);
}

void krn_job_text(const krn_job *j, eng_buf *out) {
  if (j->state != KRN_JOB_RUNNING) {
    eng_buf_puts(out, j->state == KRN_JOB_OK ? "[done] " : "[failed] ");
    summary(j, out);
    return;
  }
  enum { WIDTH = 40 };
  char bar[WIDTH + 1];
  int fill = j->tasks > 0 ? WIDTH * j->done / j->tasks : 0;
  int i = 0;
  for (; i < fill && i < WIDTH; i++) bar[i] = '=';
  if (i < WIDTH) bar[i++] = '>';
  for (; i < WIDTH; i++) bar[i] = ' ';
  bar[WIDTH] = 0;
  eng_buf_printf(out, "[Stage %d:%s(%d + %d) / %d]", j->stage, bar, j->done, j->running, j->tasks);
}

void krn_job_html(const krn_job *j, eng_buf *out) {
  eng_buf_puts(out,
               "<div class=\"ember-progress\" style=\"font-family: monospace; font-size: 90%;\">");
  if (j->state != KRN_JOB_RUNNING) {
    eng_buf_puts(out, j->state == KRN_JOB_OK ? "<span style=\"color: #2e7d32;\">&#10004;</span> "
                                             : "<span style=\"color: #c62828;\">&#10008;</span> ");
    eng_buf b;
    eng_buf_init(&b);
    summary(j, &b);
    krn_html_escape(out, b.data ? b.data : "", b.len);
    eng_buf_free(&b);
  } else {
    eng_buf_printf(out, "<progress value=\"%d\" max=\"%d\" style=\"width: 24em;\"></progress> ",
                   j->done, j->tasks > 0 ? j->tasks : 1);
    eng_buf_printf(out, "Stage %d: (%d + %d) / %d &middot; ", j->stage, j->done, j->running,
                   j->tasks);
    krn_html_escape(out, j->desc, strlen(j->desc));
    eng_buf_printf(out, " &middot; %.1f s", j->elapsed_ms / 1000);
  }
  eng_buf_puts(out, "</div>");
}
