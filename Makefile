# gatewatch: plain GNU Makefile. `make help` lists the targets.
.DEFAULT_GOAL := all

B        ?= build
CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith
CPPFLAGS += -D_GNU_SOURCE -Icommon -Iprobe -Ioperator -I$(B)/gen -MMD -MP
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS)

PKG_COMMON := libprotobuf-c
PKG_PROBE  := libpcap libndpi libzmq
PKG_ENFORCER := libnftables
PKG_OPER   := libzmq librrd libmicrohttpd jansson sqlite3 libnats
PKGCONF     = $(shell pkg-config --$(1) $(2) 2>/dev/null)
CPPFLAGS   += $(call PKGCONF,cflags,$(PKG_COMMON) $(PKG_PROBE) $(PKG_ENFORCER) $(PKG_OPER))
LIBS_COMMON = $(call PKGCONF,libs,$(PKG_COMMON)) -lm
LIBS_PROBE  = $(call PKGCONF,libs,$(PKG_PROBE)) $(LIBS_COMMON) -lpthread
LIBS_OPER   = $(call PKGCONF,libs,$(PKG_OPER)) $(LIBS_COMMON) -lpthread
LIBS_ENFORCER = $(call PKGCONF,libs,$(PKG_ENFORCER)) $(LIBS_COMMON)

# Sources: every .c in a module directory; main.c is the daemon's entry point.
PROTO_C    := $(B)/gen/gatewatch.pb-c.c
COMMON_SRC := $(wildcard common/*.c)
# probe/enforcer/: the privileged helper gatewatch-enforcer; its policy and wire
# protocol are also linked into the probe (the client side, probe/enforce.c).
ENFORCER_SRC    := $(wildcard probe/enforcer/*.c)
ENFORCER_SHARED := probe/enforcer/banlist.c probe/enforcer/request.c
PROBE_SRC  := $(filter-out probe/main.c,$(wildcard probe/*.c)) $(ENFORCER_SHARED)
OPER_SRC   := $(filter-out operator/main.c,$(wildcard operator/*.c))
obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

COMMON_OBJ := $(call obj,$(COMMON_SRC)) $(B)/obj/gen/gatewatch.pb-c.o
PROBE_OBJ  := $(call obj,$(PROBE_SRC))
OPER_OBJ   := $(call obj,$(OPER_SRC))

LIBCOMMON := $(B)/libgwcommon.a
LIBPROBE  := $(B)/libgwprobe.a
LIBOPER   := $(B)/libgwoperator.a

PROBE_BIN := $(B)/gatewatch-probe
OPER_BIN  := $(B)/gatewatch-operator
CTL_BIN   := $(B)/gatewatchctl
ENFORCER_BIN := $(B)/gatewatch-enforcer
BINS      := $(PROBE_BIN) $(ENFORCER_BIN) $(OPER_BIN) $(CTL_BIN)

# Unit tests: tests/unit/test_<area>_<module>.c, area = common|probe|operator.
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
TOOL_BIN  := $(patsubst tests/tools/%.c,$(B)/tools/%,$(wildcard tests/tools/*.c))
TEST_HELPERS := $(wildcard tests/unit/helpers/*.c)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all deps test test-unit demo bench asan fuzz clean help lab-up lab-down
all: $(BINS) $(UNIT_BIN) $(TOOL_BIN)

help:
	@echo "gatewatch make targets:"
	@echo "  make deps      install every Debian package the build, tests and demo need (idempotent)"
	@echo "  make           build $(PROBE_BIN), $(ENFORCER_BIN), $(OPER_BIN), $(CTL_BIN) and the unit tests"
	@echo "  make test      deps + build + all tests (unit, integration, end to end); ends 'N passed, N failed, N skipped'"
	@echo "  make test-unit unit tests only"
	@echo "  make demo      live lab (~90 s, DEMO_SECONDS): 4 gateways, probes, operator, dashboard, traffic, a banned attack"
	@echo "  make bench     benchmarks (throughput vs ndpiReader, memory, operator ingest, lab, capacity reports,"
	@echo "                 load shedding, capture loss vs packet size, fault figures, 10-minute soak,"
	@echo "                 3 operator shards vs 1, attack start to event and to nft ban); not part of test"
	@echo "  make asan      build with AddressSanitizer/UBSan into build-asan/ and run the unit tests"
	@echo "  make fuzz      build the libFuzzer targets (clang) and run each for FUZZ_SECONDS (default 30),"
	@echo "                 or to FUZZ_RUNS executions (FUZZ_SECONDS=0: no time bound); FUZZ_TARGETS=\"detect api\""
	@echo "                 picks targets; ends with a table: target executions exec/s findings"
	@echo "  make clean     remove $(B)/ and build-asan/"

deps:
	@sh deploy/deps.sh

$(B)/gen/gatewatch.pb-c.c $(B)/gen/gatewatch.pb-c.h: proto/gatewatch.proto
	@mkdir -p $(B)/gen
	protoc-c --proto_path=proto --c_out=$(B)/gen $<

# Every object may include the generated header.
$(B)/obj/%.o: %.c | $(B)/gen/gatewatch.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(B)/obj/gen/gatewatch.pb-c.o: $(B)/gen/gatewatch.pb-c.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu11 $(CFLAGS) -c $< -o $@

$(LIBCOMMON): $(COMMON_OBJ)
	@rm -f $@; ar rcs $@ $^
$(LIBPROBE): $(PROBE_OBJ)
	@rm -f $@; ar rcs $@ $^
$(LIBOPER): $(OPER_OBJ)
	@rm -f $@; ar rcs $@ $^

$(PROBE_BIN): $(B)/obj/probe/main.o $(LIBPROBE) $(LIBCOMMON)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LIBS_PROBE)
$(ENFORCER_BIN): $(call obj,$(ENFORCER_SRC)) $(LIBCOMMON)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LIBS_ENFORCER)
$(OPER_BIN): $(B)/obj/operator/main.o $(LIBOPER) $(LIBCOMMON)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LIBS_OPER)
$(CTL_BIN): $(call obj,$(wildcard operator/cli/*.c)) $(LIBCOMMON)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(call PKGCONF,libs,jansson) $(LIBS_COMMON)

# Test and bench tools (load generators, raw senders): tests/tools/NAME.c -> $(B)/tools/NAME
$(B)/tools/%: $(B)/obj/tests/tools/%.o $(LIBPROBE) $(LIBOPER) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LIBS_PROBE) $(LIBS_OPER)

$(B)/tests/test_common_%: $(B)/obj/tests/unit/test_common_%.o $(call obj,$(TEST_HELPERS)) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LIBS_COMMON) -lcmocka
$(B)/tests/test_probe_%: $(B)/obj/tests/unit/test_probe_%.o $(call obj,$(TEST_HELPERS)) $(LIBPROBE) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LIBS_PROBE) -lcmocka
$(B)/tests/test_operator_%: $(B)/obj/tests/unit/test_operator_%.o $(call obj,$(TEST_HELPERS)) $(LIBOPER) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LIBS_OPER) -lcmocka

test-unit: all
	@sh tests/run.sh --unit-only $(B)

test: deps
	@$(MAKE) --no-print-directory -j2 all
	@sh tests/run.sh $(B)

demo: deps
	@$(MAKE) --no-print-directory -j2 all
	@sh deploy/demo.sh $(B)

bench: deps
	@$(MAKE) --no-print-directory -j2 all
	@bash tests/bench/run.sh $(B)

asan:
	@$(MAKE) --no-print-directory B=build-asan CC=clang \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" all
	@LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  sh tests/run.sh --unit-only build-asan

FUZZ_SECONDS ?= 30
FUZZ_RUNS ?=
FUZZ_TARGETS ?=
fuzz: $(B)/gen/gatewatch.pb-c.h
	@FUZZ_RUNS=$(FUZZ_RUNS) sh tests/fuzz/run.sh $(B) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(B) build-asan

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
