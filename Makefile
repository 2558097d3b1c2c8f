# minivmm build. Every .c under the source folders is compiled into libminivmm.a; the
# programs and unit tests link against it, so adding a file needs no edit here.

ifeq ($(wildcard config.mak),)
all check check-unit check-system check-slow bench demo install:
	@test -x scripts/setup-deps && scripts/setup-deps --if-missing
	./configure
	$(MAKE) $(MAKECMDGOALS)
else
include config.mak

SRC_DIRS := util hw/core hw/kvm hw/i386 hw/pci hw/isa hw/char hw/rtc hw/nvram hw/misc \
            hw/input hw/acpi block blockdev monitor system
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

all: minivmm $(TOOLS)

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

check-system: minivmm $(TOOLS)
	@scripts/setup-deps --if-missing
	$(PYTHON) -m pytest -q tests/system $(PYTEST_ARGS)

check-slow: check
	$(PYTHON) -m pytest -q tests/system -m slow $(PYTEST_ARGS)

bench: minivmm $(TOOLS)
	@scripts/setup-deps --if-missing
	bench/run-all

demo: minivmm
	@scripts/setup-deps --if-missing
	scripts/demo

install: minivmm $(TOOLS)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 minivmm $(TOOLS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -f minivmm $(TOOLS) libminivmm.a $(UNIT_BINS) $(ALL_OBJS) $(ALL_OBJS:.o=.d)

distclean: clean
	rm -f config.mak config-host.h

.PHONY: all check check-unit check-system check-slow bench demo install clean distclean
.DELETE_ON_ERROR:
-include $(ALL_OBJS:.o=.d)
endif
