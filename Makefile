# Custos — one non-recursive Makefile. Objects in build/ (build/san/ with SANITIZE=1).
# `make run` and `make test` install what is missing first (scripts/deps.sh).

SANITIZE ?= 0
CC ?= cc
ifeq ($(SANITIZE),1)
BUILD := build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FORTIFY :=
OPT := -O1 -g
else
BUILD := build
SANFLAGS :=
FORTIFY := -D_FORTIFY_SOURCE=2
OPT := -O2 -g
endif

PKGS := libmicrohttpd libpq openssl jansson libjwt libcurl
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell pkg-config --cflags criterion libcurl 2>/dev/null)
TEST_LIBS = $(shell pkg-config --libs criterion libcurl 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wformat-nonliteral -Wvla \
        -Wstrict-prototypes -Wmissing-prototypes
HARDEN := -fstack-protector-strong $(FORTIFY) -fPIE
CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(HARDEN) $(SANFLAGS) -Iserver -MMD -MP
LDFLAGS := -pie -Wl,-z,relro,-z,now $(SANFLAGS)

# the program: main.c (start-up and dispatch) and one file per verb in server/cmd/; everything
# else is the library that the server and the test binaries link
CMD_SRC := server/main.c $(sort $(wildcard server/cmd/*.c))
CMD_OBJ := $(CMD_SRC:%.c=$(BUILD)/obj/%.o)
LIB_SRC := $(filter-out $(CMD_SRC),$(shell find server -name '*.c' | sort))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/migrations.o
MIGRATIONS := $(sort $(wildcard migrations/[0-9][0-9][0-9][0-9]_*.sql))
LIB := $(BUILD)/libcustos.a
BIN := $(BUILD)/custos

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
# tests/support/*.c: helpers shared by unit and integration tests and tools (key pairs and JWS
# signing, token minting, HTTP client); never in the product library
SUPPORT_SRC := $(sort $(wildcard tests/support/*.c))
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)
INTEG_SUPPORT := $(sort $(filter-out tests/integration/test_%.c,$(wildcard tests/integration/*.c)))
INTEG_SUPPORT_OBJ := $(INTEG_SUPPORT:%.c=$(BUILD)/obj/%.o)
INTEG_SRC := $(sort $(wildcard tests/integration/test_*.c))
INTEG_BIN := $(INTEG_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)
BENCH_SRC := $(sort $(wildcard tests/bench/*.c))
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

# the release (VERSION file) and the commit (git, or COMMIT= where there is no .git: the image
# build), compiled into core/version.o only; the stamp changes when either does
CU_VERSION := $(shell tr -cd '0-9A-Za-z.+~-' <VERSION 2>/dev/null || echo unknown)
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
CU_COMMIT := $(shell printf '%s' '$(COMMIT)' | tr -cd '0-9A-Za-z.+~-')

.PHONY: all deps run stop test test-browser test-container test-unit test-integration check-layers fuzz bench clean tests format \
        lint-api test-contract

all: $(BIN)

# Product objects get the product flags only; test code (tests/**) also sees tests/ headers,
# criterion and libcurl.
$(BUILD)/obj/server/%.o: server/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $(PKG_CFLAGS) $(TEST_CFLAGS) -c $< -o $@

$(BUILD)/gen/version.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(CU_VERSION) $(CU_COMMIT)' | cmp -s - $@ || echo '$(CU_VERSION) $(CU_COMMIT)' >$@

$(BUILD)/obj/server/core/version.o: server/core/version.c $(BUILD)/gen/version.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DCU_VERSION='"$(CU_VERSION)"' -DCU_COMMIT='"$(CU_COMMIT)"' -c $< -o $@

.PHONY: FORCE
FORCE:

# keep test objects between builds (they are intermediate files to make)
.SECONDARY:

$(BUILD)/gen/migrations.c: $(MIGRATIONS) scripts/embed-migrations.sh
	@mkdir -p $(dir $@)
	@scripts/embed-migrations.sh $@

$(BUILD)/obj/gen/migrations.o: $(BUILD)/gen/migrations.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CMD_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(SUPPORT_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS) -lpthread

$(BUILD)/tests/integration/%: $(BUILD)/obj/tests/integration/%.o $(INTEG_SUPPORT_OBJ) $(SUPPORT_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS) -lpthread

$(BUILD)/tests/tools/%: $(BUILD)/obj/tests/tools/%.o $(SUPPORT_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS) -lpthread

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(BUILD)/obj/tests/support/jwk_keys.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

tests: $(BIN) $(UNIT_BIN) $(INTEG_BIN) $(TOOL_BIN) $(BENCH_BIN)

deps:
	@scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory $(BIN)
	@scripts/run.sh

# stops what `make run` started: the service and the development PostgreSQL
stop:
	@scripts/run.sh stop

# the whole run also builds the image and runs it as production does (test-container; not under
# SANITIZE=1, which tests the code and not the image, nor for an ONLY= selection)
test: deps
	@$(MAKE) --no-print-directory check-layers
	@$(MAKE) -s --no-print-directory tests
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) scripts/test.sh
	@if [ "$(SANITIZE)" != 1 ] && [ -z "$(ONLY)" ]; then \
	    $(MAKE) -s --no-print-directory test-container; fi

# the secure capture page in a real browser: PostgreSQL and the server as for `make test`, no
# suites, then tests/browser/capture.test.mjs (chromium and node from scripts/deps.sh)
test-browser: deps
	@cd tests/browser && npm ci --ignore-scripts --no-audit --no-fund --silent
	@$(MAKE) -s --no-print-directory $(BIN) $(TOOL_BIN)
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) ONLY='^$$' PGBOUNCER_SUITES='^$$' BROWSER=1 scripts/test.sh

# the image built with podman and run as production runs it (scripts/container.sh); .ci/run
test-container: deps
	@$(MAKE) -s --no-print-directory $(BUILD)/tests/tools/mkidp $(BUILD)/tests/tools/mkjwt
	@scripts/container.sh build
	@scripts/container.sh test

test-unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t --jobs=2; done

check-layers:
	@scripts/check-layers.sh

# the OpenAPI contract: Spectral + OWASP ruleset at 0 errors (also run by make test), and a
# session through a Prism validating proxy with 0 response violations (run by .ci/run)
lint-api: deps
	@scripts/lint-api.sh

test-contract: deps
	@$(MAKE) -s --no-print-directory tests
	@BUILD=$(BUILD) scripts/contract.sh

fuzz:
	@PKGS="$(PKGS)" scripts/fuzz.sh $(FUZZ_SECONDS)

bench: deps
	@$(MAKE) --no-print-directory $(BIN) $(BENCH_BIN) $(TOOL_BIN)
	@BUILD=$(BUILD) scripts/bench.sh

format:
	clang-format -i $$(find server tests -name '*.[ch]')

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
