/* err.c -- error codes, their class words, and message formatting. */
#include "err.h"

#include <stdio.h>
#include <string.h>

int eng_err_vset(eng_err *err, int code, const char *fmt, va_list ap) {
  if (!err) return code;
  err->code = code;
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  return code;
}

int eng_err_set(eng_err *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  eng_err_vset(err, code, fmt, ap);
  va_end(ap);
  return code;
}

void eng_err_clear(eng_err *err) {
  if (!err) return;
  err->code = 0;
  err->msg[0] = 0;
}

void eng_err_copy(eng_err *dst, const eng_err *src) {
  if (!dst || !src || dst == src) return;
  dst->code = src->code;
  memcpy(dst->msg, src->msg, sizeof dst->msg);
}

static const struct {
  int code;
  const char *name;
} classes[] = {
    {ENG_ERROR, "Error"},          {ENG_ENOMEM, "MemoryError"},
    {ENG_EINVAL, "ValueError"},    {ENG_ETYPE, "TypeError"},
    {ENG_ECOMPILE, "CompileError"}, {ENG_EIO, "IOError"},
    {ENG_ETASK, "TaskFailed"},     {ENG_ECANCEL, "Cancelled"},
    {ENG_ELOST, "ExecutorLost"},   {ENG_EPROTO, "ProtocolError"},
    {ENG_EFETCH, "FetchFailed"},   {ENG_ECRASH, "Crash"},
    {ENG_EAUTH, "AuthError"},
};

const char *eng_err_class(int code) {
  for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
    if (classes[i].code == code) return classes[i].name;
  return "Error";
}

int eng_err_code_of(const char *msg) {
  for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
    size_t n = strlen(classes[i].name);
    if (strncmp(msg, classes[i].name, n) == 0 && msg[n] == ':') return classes[i].code;
  }
  return ENG_ERROR;
}
