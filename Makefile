# lapis build. Plain GNU make: the project is one C library, one binary and a
# handful of freestanding guests, and make handles the guest cross-flags simply.
#
#   make              build lapis, liblapis.a, lapis.pc, the guests and tests
#   make check        build and run every test (unit + integration)
#   make check SANITIZE=1   the same under ASan + UBSan (objects in build-asan/)
#   make check-kernels      the kernel matrix on nested standard-KVM hosts
#   make format       clang-format every source file

CC      ?= cc
AR      ?= ar
SANITIZE ?=
VERSION := 0.1.0

ifeq ($(SANITIZE),1)
BUILD   ?= build-asan
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD   ?= build
SANFLAGS :=
endif

WARNFLAGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wpointer-arith -Wformat=2 -Wvla
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARNFLAGS) $(SANFLAGS) -D_GNU_SOURCE -DLAPIS_VERSION=\"$(VERSION)\" \
           -Isrc -MMD -MP
LDFLAGS += $(SANFLAGS)
LDLIBS  += -lpthread

DEVICE_SRCS := $(sort $(wildcard src/devices/*.c))
LOADER_SRCS := $(sort $(wildcard src/loader/*.c))
KVM_SRCS    := $(sort $(wildcard src/kvm/*.c))
CLI_SRCS    := $(sort $(filter-out src/cli/main.c,$(wildcard src/cli/*.c)))
UNIT_SRCS   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_HELPERS := $(sort $(filter-out tests/unit/test_%,$(wildcard tests/unit/*.c)))
EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

DEVICE_OBJS := $(call obj,$(DEVICE_SRCS))
LOADER_OBJS := $(call obj,$(LOADER_SRCS))
CLI_OBJS    := $(call obj,$(CLI_SRCS))
KVM_OBJS    := $(call obj,$(KVM_SRCS))
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
EXAMPLE_BINS := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRCS))

# Optional libraries for unpacking compressed Linux kernels; used when present.
EXTRA_LIBS := $(shell for l in lzma z zstd lz4; do \
    printf 'int main(void){return 0;}' | $(CC) -x c - -l$$l -o /dev/null 2>/dev/null && printf -- '-l%s ' $$l; done)
LDLIBS += $(EXTRA_LIBS)

.PHONY: all lib guests tests check check-unit format format-check clean
all: $(BUILD)/lapis lib guests tests $(EXAMPLE_BINS)
lib: $(BUILD)/liblapis.a $(BUILD)/lapis.pc
tests: $(UNIT_BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The embeddable device models, alone.
$(BUILD)/liblapis.a: $(DEVICE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

# Pure layers (no KVM): loaders, and the CLI's parsers (everything in src/cli but main.c).
$(BUILD)/liblapis-loader.a: $(LOADER_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^
$(BUILD)/liblapis-cli.a: $(CLI_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^
# The KVM backend: the only layer with ioctl().
$(BUILD)/liblapis-kvm.a: $(KVM_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

PURE_LIBS := $(BUILD)/liblapis-cli.a $(BUILD)/liblapis-loader.a $(BUILD)/liblapis.a
ALL_LIBS  := $(BUILD)/liblapis-cli.a $(BUILD)/liblapis-kvm.a $(BUILD)/liblapis-loader.a \
             $(BUILD)/liblapis.a

$(BUILD)/lapis: $(BUILD)/src/cli/main.o $(ALL_LIBS)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Unit tests link only the pure layers: they never touch KVM.
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(call obj,$(UNIT_HELPERS)) $(PURE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The probe's judging half is pure (src/kvm/probe_verdict.h): its test links that file alone.
$(BUILD)/tests/test_probe_verdict: $(BUILD)/src/kvm/probe_verdict.o

$(BUILD)/examples/%: $(BUILD)/examples/%.o $(BUILD)/liblapis.a
	$(CC) $(LDFLAGS) $^ -o $@

$(BUILD)/lapis.pc: lapis.pc.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@PREFIX@|$(PREFIX)|' $< > $@

PREFIX ?= /usr/local
.PHONY: install
install: lib
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/lapis
	install -m 644 $(BUILD)/liblapis.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(BUILD)/lapis.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 644 src/devices/*.h $(DESTDIR)$(PREFIX)/include/lapis/

# Freestanding guests (guest/guest.mk defines GUEST_ELFS and their rules).
include guest/guest.mk
guests: $(GUEST_ELFS)

check: all
	LAPIS_BUILD=$(BUILD) tests/run-tests.sh

check-unit: tests
	LAPIS_BUILD=$(BUILD) tests/run-tests.sh --unit-only

# The kernel matrix: probe, built-in guest, SMP guests and conformance on the host's
# /dev/kvm (if any) and on Debian's 6.1, 6.12 and 7.x KVM in nested hosts.
#   make check-kernels [RUNS=3] [KERNELS="6.1 6.12 7"] [JSON=FILE]
RUNS    ?= 1
KERNELS ?= 6.1 6.12 7
.PHONY: check-kernels
check-kernels: all
	LAPIS_BUILD=$(BUILD) tests/nested/check-kernels.sh --runs $(RUNS) --kernels "$(KERNELS)" \
	    $(if $(JSON),--json $(JSON))

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Fuzzing (libFuzzer via clang): fuzz/fuzz.mk defines `make fuzz SECONDS=N`.
-include fuzz/fuzz.mk
-include conformance/conformance.mk
# On /dev/kvm where it is usable, else in a nested standard KVM (tests/nested/run).
run: all
	@if [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then $(BUILD)/lapis run; else \
	    echo "make run: no usable /dev/kvm: running in a nested standard KVM (tests/nested/run 7)"; \
	    tests/nested/run 7 -- $(BUILD)/lapis run; fi
-include bench/bench.mk

# Debian's kernel under lapis, its serial console on this terminal (tests/linux/fetch.sh
# downloads it into tests/linux/cache/ once). Guest kernel code is emulated on PVM hosts:
# expect minutes, and a stop on an unsupported instruction after the x2APIC set-up.
.PHONY: linux-demo
linux-demo: $(BUILD)/lapis
	cache=$$(tests/linux/fetch.sh) && $(BUILD)/lapis run --kernel "$$cache/vmlinuz" \
	    --initrd "$$cache/initramfs.cpio.gz" --memory 512M \
	    --cmdline "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1" || \
	    echo "linux-demo: exit status $$? (see lapis's last line above)"
