# ember -- one Makefile, no generator.
#
#   make            build build/ember (and build/libember.a)
#   make run        set up, build, start the REPL on local[*]
#   make test       set up, build, run every quick test (unit, REPL scripts, kernel)
#   make test-all   test + slow soak/fuzz/fault tests
#   make asan       the tests under AddressSanitizer + UBSan (build/asan)
#   make bench      benchmarks against the peers (bench/), bench-quick a short run
#   make install    binary and Jupyter kernelspec under PREFIX (default /usr/local)
#
# `deps` installs missing Debian packages (apt-get) and is a prerequisite of
# the build, so on a fresh machine `make run` and `make test` are all the
# set-up there is.

CC       ?= gcc
MODE     ?= release
PREFIX   ?= /usr/local
TCC_LIB  ?= /usr/lib/x86_64-linux-gnu/tcc
PYTHON   ?= /usr/bin/python3

ifeq ($(MODE),asan)
  BUILD    ?= build/asan
  OPTFLAGS  = -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  SANLD     = -fsanitize=address,undefined
else ifeq ($(MODE),debug)
  BUILD    ?= build/debug
  OPTFLAGS  = -O0 -DENG_DEBUG
else
  BUILD    ?= build
  # gcc 12's -O2 vectorizes straight-line code: a 16-byte value passed in two
  # registers gets stored as two halves and reloaded as one 16-byte load,
  # which the CPU cannot forward from the stores (perf annotate: 59% of
  # eng_colb_append, 70% of a pipe loop). Switched off, those stay scalar.
  OPTFLAGS  = -O2 -fno-tree-slp-vectorize
endif

WARN     = -Wall -Wextra -Wshadow -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  += -std=gnu11 -D_GNU_SOURCE -g $(OPTFLAGS) $(WARN) -pthread -fvisibility=hidden -MMD -MP \
           -DUDF_TCC_LIB='"$(TCC_LIB)"' $(EXTRA_CFLAGS)
LDLIBS   = -Wl,--no-as-needed -lzmq -ljansson -l:libtcc.a -ldl -lzstd -lz -lm -pthread
LDFLAGS += $(SANLD)

LIB_SRC  = $(wildcard engine/*.c) $(wildcard udf/*.c) \
           $(filter-out repl/main.c,$(wildcard repl/*.c)) $(wildcard kernel/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/prelude_text.o \
           $(BUILD)/obj/gen/cellapi_text.o
LIB      = $(BUILD)/libember.a
BIN      = $(BUILD)/ember
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
SLOW_SRC = $(wildcard tests/unit/slow_*.c)
SLOW_BIN = $(SLOW_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run test test-all asan unit check-symbols bench bench-quick install clean

all: deps $(BIN)

# ---- dependencies ----------------------------------------------------------
# Each entry: a file that proves the package is there, then the package.
BUILD_DEPS = /usr/include/zmq.h:libzmq3-dev /usr/include/jansson.h:libjansson-dev \
             /usr/include/libtcc.h:libtcc-dev $(TCC_LIB)/libtcc1.a:tcc \
             /usr/include/cmocka.h:libcmocka-dev /usr/include/zlib.h:zlib1g-dev \
             /usr/include/zstd.h:libzstd-dev /usr/bin/pkg-config:pkg-config
TEST_DEPS  = /usr/lib/python3/dist-packages/jupyter_client:python3-jupyter-client \
             /usr/lib/python3/dist-packages/jupyter_kernel_test:python3-jupyter-kernel-test \
             /usr/lib/python3/dist-packages/nbclient:python3-nbclient \
             /usr/bin/jupyter-console:jupyter-console /usr/bin/gzip:gzip /usr/bin/zstd:zstd \
             /usr/bin/timeout:coreutils /usr/sbin/ip:iproute2 /usr/bin/tmux:tmux

deps:
	@tools/deps.sh $(BUILD_DEPS)

deps-test: deps
	@tools/deps.sh $(TEST_DEPS)

# ---- build -----------------------------------------------------------------
$(BUILD)/gen/prelude_text.c: udf/prelude.h tools/embed.sh
	@mkdir -p $(dir $@)
	tools/embed.sh udf__prelude_text $< > $@

$(BUILD)/gen/cellapi_text.c: repl/cellapi.h tools/embed.sh
	@mkdir -p $(dir $@)
	tools/embed.sh repl__cellapi_text $< > $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/repl/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/th.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -Iengine -Iudf -Itests/unit $(LDFLAGS) -o $@ $< $(LIB) -lcmocka $(LDLIBS)

# ---- running ---------------------------------------------------------------
run: all
	$(BIN) --master 'local[*]'

unit: deps $(BIN) $(UNIT_BIN)
	@tests/run_unit.sh $(BUILD) $(UNIT_BIN)

test: deps-test $(BIN) $(UNIT_BIN)
	@tests/run_all.sh $(BUILD) quick

test-all: deps-test $(BIN) $(UNIT_BIN) $(SLOW_BIN)
	@tests/run_all.sh $(BUILD) all

asan:
	$(MAKE) MODE=asan unit

check-symbols: $(LIB)
	@tools/check_symbols.sh $(LIB)

# The binary of this MODE and the Python that has pandas go to bench/run.sh.
bench: all
	@EMBER=$(abspath $(BIN)) PYTHON=$(PYTHON) bench/run.sh full

bench-quick: all
	@EMBER=$(abspath $(BIN)) PYTHON=$(PYTHON) bench/run.sh quick

install: all
	install -D -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/ember
	$(BIN) install-kernel --prefix $(DESTDIR)$(PREFIX) --exe $(abspath $(PREFIX))/bin/ember

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
