/* test_display.c -- the kernel's rich output (kernel/display.c): show()
 * tables as HTML (escaped, cells as the text table prints them), the
 * progress bar's text, and the UTF-8 mending of JSON text (kernel/wire.c).
 */
#include "th.h"

#include "../../engine/val.h"
#include "../../kernel/display.h"
#include "../../kernel/wire.h"

static char *html_of(const eng_table *t) {
  eng_buf b;
  eng_buf_init(&b);
  assert_int_equal(krn_table_html(t, &b), 0);
  return eng_buf_take(&b, NULL);
}

static void display_html_table_escapes_and_formats_like_show(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  const char *longs = "abcdefghijklmnopqrstuvwxyz0123";
  eng_val cells[] = {
      eng_strv("<b>&'\"", 6), eng_none(),       eng_strv(longs, (long)strlen(longs)),
      eng_long(42),           eng_strv("a", 1), eng_double(2.5),
  };
  eng_table t = {.ncols = 2, .colnames = {"key", "value"}, .nrows = 3, .cells = cells, .more = 1};
  char *h = html_of(&t);
  assert_non_null(strstr(h, "<th>key</th><th>value</th>"));
  assert_non_null(strstr(h, ">&lt;b&gt;&amp;&#39;&quot;</td>"));
  assert_non_null(strstr(h, ">null</td>"));                 /* None, as Spark shows null */
  assert_non_null(strstr(h, ">abcdefghijklmnopq...</td>")); /* 20-character truncation */
  assert_non_null(strstr(h, ">42</td>"));
  assert_non_null(strstr(h, ">a</td>")); /* no padding kept */
  assert_non_null(strstr(h, ">2.5</td>"));
  assert_non_null(strstr(h, "<p>only showing top 3 rows</p>"));
  assert_null(strstr(h, "<b>"));
  eng_free(h);
  TH_MEM_END();
}

static void display_html_table_empty_and_single_row(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_table empty = {.ncols = 1, .colnames = {"value", "value"}, .nrows = 0, .cells = NULL};
  char *h = html_of(&empty);
  assert_non_null(strstr(h, "<th>value</th>"));
  assert_null(strstr(h, "<td"));
  assert_null(strstr(h, "only showing"));
  eng_free(h);
  eng_val one = eng_long(7);
  eng_table t = {.ncols = 1, .colnames = {"value", "value"}, .nrows = 1, .cells = &one, .more = 1};
  h = html_of(&t);
  assert_non_null(strstr(h, "only showing top 1 row<"));
  eng_free(h);
  TH_MEM_END();
}

static void display_progress_text_is_sparks_bar(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  krn_job j = {.job = 1,
               .stage = 2,
               .tasks = 8,
               .done = 4,
               .running = 2,
               .stages = 1,
               .tasks_done = 4,
               .elapsed_ms = 1500,
               .state = KRN_JOB_RUNNING};
  snprintf(j.desc, sizeof j.desc, "collect at cell[3]:1 <x>");
  eng_buf b;
  eng_buf_init(&b);
  krn_job_text(&j, &b);
  assert_string_equal(eng_buf_cstr(&b),
                      "[Stage 2:====================>                   (4 + 2) / 8]");
  b.len = 0;
  krn_job_html(&j, &b);
  assert_non_null(strstr(eng_buf_cstr(&b), "<progress value=\"4\" max=\"8\""));
  assert_non_null(strstr(eng_buf_cstr(&b), "collect at cell[3]:1 &lt;x&gt;"));
  b.len = 0;
  j.state = KRN_JOB_OK;
  j.tasks_done = 8;
  krn_job_text(&j, &b);
  assert_string_equal(eng_buf_cstr(&b),
                      "[done] collect at cell[3]:1 <x> (1 stage, 8 tasks, 1.5 s)");
  b.len = 0;
  j.state = KRN_JOB_FAILED;
  krn_job_text(&j, &b);
  assert_true(strncmp(eng_buf_cstr(&b), "[failed] ", 9) == 0);
  eng_buf_free(&b);
  TH_MEM_END();
}

static void display_json_text_mends_invalid_utf8(void **state) {
  (void)state;
  json_t *j = krn_json_text("ok \xc3\xa9 \xff\xfe end", 13);
  assert_non_null(j);
  assert_string_equal(json_string_value(j), "ok \xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd end");
  json_decref(j);
  /* Overlong forms and surrogates are not valid UTF-8 either. */
  j = krn_json_text("\xc0\xaf|\xed\xa0\x80", 6);
  assert_string_equal(json_string_value(j),
                      "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  json_decref(j);
}

static void display_utf8_whole_holds_back_a_split_sequence(void **state) {
  (void)state;
  const char *s = "ab\xe2\x82\xac"; /* "ab€" */
  assert_int_equal(krn_utf8_whole(s, 5), 5);
  assert_int_equal(krn_utf8_whole(s, 4), 2); /* "\xe2\x82" waits for its last byte */
  assert_int_equal(krn_utf8_whole(s, 3), 2);
  assert_int_equal(krn_utf8_whole(s, 2), 2);
  assert_int_equal(krn_utf8_whole("\xff", 1), 1); /* invalid: not held back */
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(display_html_table_escapes_and_formats_like_show),
    cmocka_unit_test(display_html_table_empty_and_single_row),
    cmocka_unit_test(display_progress_text_is_sparks_bar),
    cmocka_unit_test(display_json_text_mends_invalid_utf8),
    cmocka_unit_test(display_utf8_whole_holds_back_a_split_sequence),
};

TH_MAIN(tests)
