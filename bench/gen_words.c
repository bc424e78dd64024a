/* gen_words.c -- ember's own text corpus generator for the word-count
 * benchmarks: the distribution of the reference workload (the design
 * documents' bench/gen_words.c): a vocabulary of V pseudo-words whose length
 * grows with log(rank), drawn by a Zipf(1.0) law over rank, 12 words per
 * line, single spaces, splitmix64 randomness from a fixed seed.
 *
 *   gen_words BYTES VOCAB [SEED] > words.txt
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 0x1234567;

static uint64_t next(void) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s BYTES VOCAB [SEED]\n", argv[0]);
    return 2;
  }
  uint64_t bytes = strtoull(argv[1], NULL, 10);
  uint32_t vocab = (uint32_t)strtoul(argv[2], NULL, 10);
  if (argc > 3) state = strtoull(argv[3], NULL, 10);
  char **word = malloc(vocab * sizeof *word);
  unsigned char *wlen = malloc(vocab);
  double *cdf = malloc(vocab * sizeof *cdf), total = 0;
  for (uint32_t i = 0; i < vocab; i++) {
    /* Frequent words are short: length ~ log(rank). */
    int len = 2 + (int)(log2(i + 2.0) * 0.55) + (int)(next() % 3);
    if (len > 12) len = 12;
    word[i] = malloc((size_t)len + 1);
    wlen[i] = (unsigned char)len;
    for (int j = 0; j < len; j++) word[i][j] = (char)('a' + next() % 26);
    total += 1.0 / (i + 1.0);
    cdf[i] = total;
  }
  for (uint32_t i = 0; i < vocab; i++) cdf[i] /= total;
  static char buf[1 << 20];
  size_t n = 0;
  uint64_t written = 0;
  int col = 0;
  while (written < bytes) {
    double u = (double)(next() >> 11) * 0x1.0p-53;
    uint32_t lo = 0, hi = vocab - 1;
    while (lo < hi) {
      uint32_t mid = (lo + hi) / 2;
      if (cdf[mid] < u)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (n > sizeof buf - 32) {
      fwrite(buf, 1, n, stdout);
      n = 0;
    }
    memcpy(buf + n, word[lo], wlen[lo]);
    n += wlen[lo];
    written += wlen[lo] + 1u;
    buf[n++] = ++col == 12 ? (col = 0, '\n') : ' ';
  }
  if (col) buf[n - 1] = '\n';
  fwrite(buf, 1, n, stdout);
  return 0;
}
