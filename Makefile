# Coffer — top-level build.  `make test` and `make demo` install what they need.
#
# Layout: common/ and vault/ are libraries; gateway/, api/, ctl/ are programs
# whose non-main files form a library too, so tests can link them.  Every
# tests/unit/test_X.c is one cmocka binary; tests/integration/itest_X.c and
# tests/integration/*.sh run inside a throwaway PostgreSQL (tests/pg-harness.sh).

CC      ?= cc
BUILD   ?= build
PG_INC  := $(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wcast-qual -Werror
ifeq ($(SAN),1)
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=all
SANLD   := -fsanitize=address,undefined
else
OPT     := -O2 -g -D_FORTIFY_SOURCE=2
SANLD   :=
endif
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -fstack-protector-strong \
           -fPIE -pthread -I. -I$(PG_INC) -MMD -MP
LDFLAGS += -pie -pthread -Wl,-z,relro,-z,now -Wl,--as-needed $(SANLD)
# One version for the three programs: VERSION plus the git commit when the
# tree is a checkout.  PREFIX and DESTDIR are for `make install` only: no
# path is compiled in (`cofferctl migrate` finds installed migrations next
# to its own binary), so installing elsewhere rebuilds nothing.
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION_BASE := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_COMMIT   := $(shell git rev-parse --short=12 HEAD 2>/dev/null)
COFFER_VERSION := $(VERSION_BASE)$(if $(GIT_COMMIT),+g$(GIT_COMMIT))
BUILDINFO := $(BUILD)/gen/buildinfo.h

LDLIBS  := -lmicrohttpd -lgnutls -lcurl -larchive -lhttp_parser -ljansson -lpq -lssl -lcrypto -lsodium -lm

# -- sources ------------------------------------------------------------------
PROGS   := $(foreach p,gateway api ctl,$(if $(wildcard $(p)/main.c),$(p)))
BINNAME_gateway := coffer-gateway
BINNAME_api     := coffer-api
BINNAME_ctl     := cofferctl
include agent/agent.mk

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

COMMON_OBJ := $(call obj,$(wildcard common/*.c))
VAULT_OBJ  := $(call obj,$(wildcard vault/*.c))
define PROG_template
$(1)_LIBOBJ := $$(call obj,$$(filter-out $(1)/main.c,$$(wildcard $(1)/*.c)))
$(BUILD)/lib$(1).a: $$($(1)_LIBOBJ)
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^
$(BUILD)/$(BINNAME_$(1)): $(BUILD)/obj/$(1)/main.o $(BUILD)/lib$(1).a $(BUILD)/libcommon.a $(BUILD)/libvault.a
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach p,$(PROGS),$(eval $(call PROG_template,$(p))))

PROG_LIBS := $(foreach p,$(PROGS),$(BUILD)/lib$(p).a)
BINS      := $(foreach p,$(PROGS),$(BUILD)/$(BINNAME_$(p)))
LIBS      := $(PROG_LIBS) $(BUILD)/libcommon.a $(BUILD)/libvault.a

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
ITEST_SRC := $(wildcard tests/integration/itest_*.c)
ITEST_BIN := $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(ITEST_SRC))
TESTLIB_OBJ := $(call obj,$(wildcard tests/lib/*.c))
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
# Stand-alone tools: ops/X.c -> build/ops/X (load generator), bench/X.c -> build/bench/X
TOOL_SRC  := $(wildcard ops/*.c) $(wildcard bench/*.c)
TOOL_BIN  := $(patsubst %.c,$(BUILD)/%,$(TOOL_SRC))
# Test-only tools: tests/tools/X.c -> build/tests/tools/X (never installed)
TESTTOOL_BIN := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/tools/*.c))

.PHONY: FORCE install man all deps test check lint unit integration sanitize sanitize-ci fuzz torture clean bench bench-quick bench-production demo demo-stop
.DEFAULT_GOAL := all
.SECONDARY:

all: $(BINS) $(UNIT_BIN) $(ITEST_BIN) $(TOOL_BIN) $(TESTTOOL_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# Rewritten only when its text changes (version, commit), so an
# unchanged tree rebuilds nothing; only common/version.c reads it.
$(BUILDINFO): FORCE
	@mkdir -p $(@D)
	@printf '#define COFFER_VERSION "%s"\n' '$(COFFER_VERSION)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/obj/common/version.o: $(BUILDINFO)
$(BUILD)/obj/common/version.o: CFLAGS += -I$(BUILD)/gen
FORCE:

$(BUILD)/libcommon.a: $(COMMON_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libvault.a: $(VAULT_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TESTLIB_OBJ) $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
$(BUILD)/tests/itest_%: $(BUILD)/obj/tests/integration/itest_%.o $(TESTLIB_OBJ) $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tests/tools/%: $(BUILD)/obj/tests/tools/%.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/ops/%: $(BUILD)/obj/ops/%.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS)
$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS)
# Shared by the load generator and the baselines (synthetic records, COPY);
# objects before the archives when linking, so they may use common/.
BENCHLIB_OBJ := $(call obj,$(wildcard bench/lib/*.c))
$(TOOL_BIN): $(BENCHLIB_OBJ)

include agent/import/import.mk

# -- man pages, install ---------------------------------------------------------
# The pages are made from the binaries' --help and the README (docs/man/mkman.py),
# so they cannot say anything the code and the README do not.
MANPAGES := $(BUILD)/man/cofferctl.1 $(BUILD)/man/coffer-gateway.8 \
            $(BUILD)/man/coffer-api.8 $(BUILD)/man/coffer.conf.5
man: $(MANPAGES)
$(MANPAGES) &: $(BINS) README.md docs/man/mkman.py
	@mkdir -p $(BUILD)/man
	python3 docs/man/mkman.py README.md $(BUILD) $(BUILD)/man

# `make install PREFIX=/usr DESTDIR=/stage`: binaries, man pages, bash
# completion and migrations/ (where `cofferctl migrate` finds them).  All
# three programs go to $(PREFIX)/bin, where ops/systemd/ runs them.
BINDIR  := $(PREFIX)/bin
DATADIR := $(PREFIX)/share/coffer
MANDIR  := $(PREFIX)/share/man
COMPDIR := $(PREFIX)/share/bash-completion/completions
install: $(BINS) $(MANPAGES)
	install -d '$(DESTDIR)$(BINDIR)' \
	    '$(DESTDIR)$(DATADIR)/migrations' '$(DESTDIR)$(MANDIR)/man1' \
	    '$(DESTDIR)$(MANDIR)/man5' '$(DESTDIR)$(MANDIR)/man8' \
	    '$(DESTDIR)$(COMPDIR)'
	install -m 0755 $(BINS) '$(DESTDIR)$(BINDIR)/'
	install -m 0644 migrations/*.sql '$(DESTDIR)$(DATADIR)/migrations/'
	install -m 0644 $(BUILD)/man/cofferctl.1 '$(DESTDIR)$(MANDIR)/man1/'
	install -m 0644 $(BUILD)/man/coffer.conf.5 '$(DESTDIR)$(MANDIR)/man5/'
	install -m 0644 $(BUILD)/man/coffer-gateway.8 $(BUILD)/man/coffer-api.8 \
	    '$(DESTDIR)$(MANDIR)/man8/'
	install -m 0644 ops/bash-completion/cofferctl '$(DESTDIR)$(COMPDIR)/cofferctl'

# -- entry points --------------------------------------------------------------
deps:
	@sh ops/deps.sh

# Install first, then re-enter make so pg_config and headers are seen.
# Lint first: it takes seconds, the suite takes minutes.
test: deps
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory check

check: all
	@python3 tests/tools/include_cycles.py --self-test
	@python3 tests/tools/include_cycles.py
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration

# shellcheck (.shellcheckrc) and pyflakes over every shell script and Python
# file; zero findings, or each justified where it is (tests/run-lint.sh).
lint: deps
	@sh tests/run-lint.sh

unit: $(UNIT_BIN)
	@sh tests/run-unit.sh $(UNIT_BIN)

# ITESTS="NAME..." runs only those integration tests (names as in
# tests/pg-harness.sh --only).  In COFFER_ITEST_LANES (2) parallel lanes,
# each with its own PostgreSQL cluster (tests/run-lanes.sh).
integration: $(BINS) $(ITEST_BIN) $(TESTTOOL_BIN)
	@BUILD=$(BUILD) sh tests/run-lanes.sh $(if $(ITESTS),--only "$(ITESTS)")

# The whole system on this machine: private PostgreSQL under ./var, gateway,
# API, a sample archive, a matter through two approvals (ops/demo.sh).
demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh ops/demo.sh

demo-stop:
	@sh ops/demo-stop.sh

sanitize: deps
	@$(MAKE) --no-print-directory BUILD=build-san SAN=1 check

# What CI (.ci/run) runs under ASan + UBSan after `make test`: every unit
# test, and the integration tests that feed untrusted input to the parsers
# or drive the fault paths (README, "Sanitizers in CI").  `make sanitize`
# runs them all.
SAN_CI_ITESTS := itest_ingest hostile_input api_frontdoor memory_disclosure \
                 fault_kill_gateway fault_commit_cut disk_full
sanitize-ci: deps
	@$(MAKE) --no-print-directory BUILD=build-san SAN=1 \
	    ITESTS="$(SAN_CI_ITESTS)" check

fuzz: deps
	@sh tests/fuzz/run.sh $(FUZZ_SRC)

# The long hostile-world runs: faults, disk full, clock jumps (bounded,
# loopback only); prints one table of every figure (tests/run-torture.sh).
torture: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh tests/run-torture.sh

# Benchmarks against their ceilings in one run (bench/README.md).
bench: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh bench/run.sh --full
bench-quick: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh bench/run.sh --quick
# Only the production figure, at a reduced size (BENCH_PROD_RECORDS,
# BENCH_PROD_ARCHIVE; bench/README.md); no deps step, builds first.
bench-production:
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh bench/run.sh --production

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
