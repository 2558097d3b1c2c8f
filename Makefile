# minivmm build. Every .c under the source folders is compiled into libminivmm.a; the
# programs and unit tests link against it, so adding a file needs no edit here.

ifeq ($(wildcard config.mak),)
all check check-unit check-system check-slow check-qtest check-qtest-vmm fuzz check-fuzz bench demo install \
    check-linux:
	@test -x scripts/setup-deps && scripts/setup-deps --if-missing
	./configure
	$(MAKE) $(MAKECMDGOALS)
else
include config.mak

SRC_DIRS := util $(patsubst %/,%,$(sort $(wildcard hw/*/))) block blockdev monitor system
LIB_SRCS := $(filter-out system/main.c,$(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJS := $(LIB_SRCS:.c=.o)
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(UNIT_SRCS:.c=)
# Each tool is a folder tools/NAME/ built into minivmm-NAME.
TOOL_DIRS := $(patsubst tools/%/,%,$(wildcard tools/*/))
TOOLS := $(addprefix minivmm-,$(TOOL_DIRS))
TOOL_OBJS := $(patsubst %.c,%.o,$(wildcard tools/*/*.c))
ALL_OBJS := $(LIB_OBJS) system/main.o $(UNIT_SRCS:.c=.o) $(TOOL_OBJS)
CPPFLAGS := -Iinclude -I. -MMD -MP
PYTHON := /usr/bin/python3
PYTEST_ARGS ?=

all: minivmm $(TOOLS) guest

libminivmm.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# Drivers and devices register themselves from constructors: link the whole archive so
# nothing references them by name.
LINK_LIB := -Wl,--whole-archive libminivmm.a -Wl,--no-whole-archive

minivmm: system/main.o libminivmm.a
	$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIB) $(LIBS)

define TOOL_RULE
minivmm-$(1): $(patsubst %.c,%.o,$(wildcard tools/$(1)/*.c)) libminivmm.a
	$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $$(LINK_LIB) $$(LIBS)
endef
$(foreach t,$(TOOL_DIRS),$(eval $(call TOOL_RULE,$(t))))

%.o: %.c config-host.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

tests/unit/test-%: tests/unit/test-%.o libminivmm.a
	$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIB) $(LIBS)

check: check-unit check-system

check-unit: $(UNIT_BINS)
	@scripts/run-unit-tests $(UNIT_BINS)

check-system: minivmm $(TOOLS) guest
	@scripts/setup-deps --if-missing
	$(PYTHON) -m pytest -q tests/system $(PYTEST_ARGS)

check-slow: check
	$(PYTHON) -m pytest -q tests/system -m slow $(PYTEST_ARGS)

bench: minivmm $(TOOLS) guest
	@scripts/setup-deps --if-missing
	bench/run-all

demo: minivmm
	@scripts/setup-deps --if-missing
	scripts/demo

# The optional Linux-guest tier (docs/guests.md): not part of check. Skips its minivmm half,
# with the reason shown, where KVM emulates guest kernel mode; runs QEMU as the reference.
check-linux: minivmm
	@scripts/setup-deps --if-missing
	scripts/build-test-guest
	$(PYTHON) -m pytest -q -rs tests/linux $(PYTEST_ARGS)

install: minivmm $(TOOLS)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 minivmm $(TOOLS) $(DESTDIR)$(PREFIX)/bin/

# ---- qtest device tests (C) and libFuzzer targets ----
# tests/qtest/test-NAME.c are GLib test programs that start ./minivmm with the qtest
# accelerator through libqtest (QTEST_QEMU=1 runs them against QEMU instead).
# tests/fuzz/fuzz-NAME.c are libFuzzer targets, built with clang and sanitizers in
# build-fuzz/ from the same sources as libminivmm.a; see docs/fuzzing.md.
QTEST_SRCS := $(wildcard tests/qtest/test-*.c)
QTEST_BINS := $(QTEST_SRCS:.c=)
QTEST_LIB_OBJS := tests/qtest/libqtest.o tests/qtest/libqtest-unix.o tests/qtest/libqpci.o \
                  tests/qtest/libqide.o
QTEST_OBJS := $(QTEST_SRCS:.c=.o) $(QTEST_LIB_OBJS)

tests/qtest/test-%: tests/qtest/test-%.o $(QTEST_LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Each test runs twice: against ./minivmm, then against Debian's QEMU (the reference).
# The qtest programs against minivmm only (CI runs them again on the sanitizer build).
check-qtest-vmm: minivmm $(QTEST_BINS)
	@scripts/run-unit-tests $(QTEST_BINS)

check-qtest: check-qtest-vmm
	@QTEST_QEMU=1 scripts/run-unit-tests $(QTEST_BINS)

FUZZ_CC := clang
FUZZ_DIR := build-fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
# gcc's build is the warning arbiter; clang's reports on others' printf wrappers and KVM's
# variable-sized structs are silenced here.
FUZZ_CFLAGS := $(filter-out -O2 -Wshadow=local,$(CFLAGS)) -O1 -gline-tables-only $(FUZZ_SAN) \
               -fsanitize=fuzzer-no-link -Wno-format-nonliteral \
               -Wno-gnu-variable-sized-type-not-at-end
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz-%.c,%,$(wildcard tests/fuzz/fuzz-*.c))
FUZZ_BINS := $(addprefix $(FUZZ_DIR)/fuzz-,$(FUZZ_TARGETS))
FUZZ_LIB_OBJS := $(addprefix $(FUZZ_DIR)/,$(LIB_SRCS:.c=.o))
FUZZ_SECONDS ?= 10

$(FUZZ_DIR)/%.o: %.c config-host.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/libminivmm.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz-%: $(FUZZ_DIR)/tests/fuzz/fuzz-%.o $(FUZZ_DIR)/tests/fuzz/harness.o \
                    $(FUZZ_DIR)/libminivmm.a
	$(FUZZ_CC) $(LDFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $(filter %.o,$^) \
	    -Wl,--whole-archive $(FUZZ_DIR)/libminivmm.a -Wl,--no-whole-archive $(LIBS)

fuzz: $(FUZZ_BINS)

check-fuzz: fuzz
	@scripts/setup-deps --if-missing
	@tests/fuzz/run-fuzzers $(FUZZ_SECONDS) $(FUZZ_TARGETS)

check-fuzz-slow:
	$(MAKE) check-fuzz FUZZ_SECONDS=600

check: check-qtest check-fuzz
check-slow: check-fuzz-slow

clean-qtest-fuzz:
	rm -f $(QTEST_BINS) $(QTEST_OBJS) $(QTEST_OBJS:.o=.d)
	rm -rf $(FUZZ_DIR)

clean: clean-qtest-fuzz

# Keep the objects of the pattern-built programs (make would delete them as intermediates).
.SECONDARY: $(QTEST_OBJS) $(FUZZ_DIR)/tests/fuzz/harness.o \
            $(patsubst %,$(FUZZ_DIR)/tests/fuzz/fuzz-%.o,$(FUZZ_TARGETS))
.PHONY: check-qtest fuzz check-fuzz check-fuzz-slow clean-qtest-fuzz
-include $(QTEST_OBJS:.o=.d) $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_DIR)/tests/fuzz/harness.d \
         $(patsubst %,$(FUZZ_DIR)/tests/fuzz/fuzz-%.d,$(FUZZ_TARGETS))
# ---- end of qtest and fuzzing ----

clean: guest-clean
	rm -f minivmm $(TOOLS) libminivmm.a $(UNIT_BINS) $(ALL_OBJS) $(ALL_OBJS:.o=.d)

distclean: clean
	rm -f config.mak config-host.h

# The test payload, a guest program built with the host toolchain: its own rules.
include tests/guest/guest.mk

.PHONY: all check check-unit check-system check-slow check-linux bench demo install clean distclean
.DELETE_ON_ERROR:
-include $(ALL_OBJS:.o=.d)
endif
