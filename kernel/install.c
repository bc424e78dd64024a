/* install.c -- `ember install-kernel [--user] [--prefix DIR]`: writes the
 * Jupyter kernelspec (kernel.json and the two logos) for this binary.
 *
 * The kernelspec names the binary by its absolute path (/proc/self/exe), so
 * Jupyter starts exactly the ember that installed it, wherever PATH points.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel.h"
#include "logo.h"

/* mkdir -p; 0 or -errno. */
static int make_dirs(const char *path) {
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -ENAMETOOLONG;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -errno;
    *p = '/';
  }
  if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -errno;
  return 0;
}

/* Writes n bytes to dir/name through a temporary file and a rename, so a
 * reader never sees half a file. 0 or -errno. */
static int write_file(const char *dir, const char *name, const void *data, size_t n) {
  char path[PATH_MAX], tmp[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s/.%s.%d", dir, name, (int)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) return -errno;
  int ok = fwrite(data, 1, n, f) == n;
  ok &= fclose(f) == 0;
  if (!ok || rename(tmp, path) < 0) {
    int e = errno ? errno : EIO;
    unlink(tmp);
    return -e;
  }
  chmod(path, 0644);
  return 0;
}

/* The user's Jupyter data directory, as jupyter_core computes it. */
static void user_data_dir(char *out, size_t cap) {
  const char *d = getenv("JUPYTER_DATA_DIR");
  if (d && *d) {
    snprintf(out, cap, "%s", d);
    return;
  }
  const char *xdg = getenv("XDG_DATA_HOME");
  if (xdg && *xdg) {
    snprintf(out, cap, "%s/jupyter", xdg);
    return;
  }
  const char *home = getenv("HOME");
  snprintf(out, cap, "%s/.local/share/jupyter", home && *home ? home : ".");
}

static int usage(FILE *f) {
  fprintf(f,
          "usage: ember install-kernel [--user] [--prefix DIR] [--exe PATH]\n"
          "  installs the Jupyter kernelspec 'ember' (display name \"ember (C)\")\n"
          "  --user        into the user's Jupyter data dir (~/.local/share/jupyter)\n"
          "  --prefix DIR  into DIR/share/jupyter (default prefix: /usr/local)\n"
          "  --exe PATH    the ember binary Jupyter starts (default: this one), for\n"
          "                installs staged under a DESTDIR\n");
  return f == stderr ? 2 : 0;
}

int krn_install_main(int argc, char **argv) {
  const char *prefix = NULL, *exe_arg = NULL;
  int user = 0;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--user") == 0)
      user = 1;
    else if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc)
      prefix = argv[++i];
    else if (strncmp(argv[i], "--prefix=", 9) == 0)
      prefix = argv[i] + 9;
    else if (strcmp(argv[i], "--exe") == 0 && i + 1 < argc)
      exe_arg = argv[++i];
    else if (strncmp(argv[i], "--exe=", 6) == 0)
      exe_arg = argv[i] + 6;
    else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
      return usage(stdout);
    else
      return usage(stderr);
  }
  if (user && prefix) {
    fprintf(stderr, "ember install-kernel: --user and --prefix exclude each other\n");
    return 2;
  }
  char exe[PATH_MAX];
  if (exe_arg) {
    if (exe_arg[0] != '/' || strlen(exe_arg) >= sizeof exe) {
      fprintf(stderr, "ValueError: --exe needs an absolute path, got '%s'\n", exe_arg);
      return 2;
    }
    snprintf(exe, sizeof exe, "%s", exe_arg);
  } else {
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
      fprintf(stderr, "IOError: cannot find this program's path: %s\n", strerror(errno));
      return 1;
    }
    exe[n] = 0;
  }
  char base[PATH_MAX], dir[PATH_MAX];
  if (user)
    user_data_dir(base, sizeof base);
  else
    snprintf(base, sizeof base, "%s/share/jupyter", prefix && *prefix ? prefix : "/usr/local");
  if (snprintf(dir, sizeof dir, "%s/kernels/ember", base) >= (int)sizeof dir) {
    fprintf(stderr, "IOError: path too long: %s\n", base);
    return 1;
  }
  int rc = make_dirs(dir);
  if (rc < 0) {
    fprintf(stderr, "IOError: cannot create %s: %s\n", dir, strerror(-rc));
    return 1;
  }
  json_t *spec = json_pack("{s:[s, s, s, s], s:s, s:s, s:s, s:{}}", "argv", exe, "kernel", "-f",
                           "{connection_file}", "display_name", "ember (C)", "language", "c",
                           "interrupt_mode", "message", "metadata");
  char *text = spec ? json_dumps(spec, JSON_INDENT(1)) : NULL;
  json_decref(spec);
  if (!text) {
    fprintf(stderr, "MemoryError: kernel.json\n");
    return 1;
  }
  size_t len = strlen(text);
  text[len] = '\n'; /* json_dumps leaves room for the NUL only: rewrite it */
  rc = write_file(dir, "kernel.json", text, len + 1);
  free(text);
  if (rc == 0) rc = write_file(dir, "logo-32x32.png", krn_logo_32, krn_logo_32_len);
  if (rc == 0) rc = write_file(dir, "logo-64x64.png", krn_logo_64, krn_logo_64_len);
  if (rc < 0) {
    fprintf(stderr, "IOError: cannot write the kernelspec in %s: %s\n", dir, strerror(-rc));
    return 1;
  }
  printf("Installed kernelspec ember in %s\n", dir);
  return 0;
}
