# Fuzzing with libFuzzer (clang -fsanitize=fuzzer), included by the top Makefile.
#
#   make fuzz-build                 build every fuzzer whose sources exist
#   make fuzz SECONDS=N             build, then run each for N seconds (default 60)
#   make fuzz FUZZ='ioapic lapic'   only these targets
#   make fuzz-list                  which targets are ready, which wait for sources
#   make fuzz-clean                 drop the fuzzers, scratch corpora and artifacts
#   fuzz/coverage.sh <target>       line coverage of the models reached by a corpus
#
# Each fuzzer compiles the model sources it needs straight into itself with
# ASan + UBSan + the fuzzer's coverage; the gcc-built archives are not used.
# Output lives in $(BUILD)/fuzz/; the committed seeds in fuzz/corpus/<target>/
# are copied into a scratch corpus there, so they stay small.

FUZZ_CC      ?= clang
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SECONDS := $(or $(SECONDS),60)
FUZZ_CFLAGS  := -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all -fno-omit-frame-pointer -D_GNU_SOURCE \
                -Isrc -Isrc/devices -Isrc/loader -Isrc/cli -Ifuzz \
                $(filter-out -Werror,$(WARNFLAGS))

FUZZ_ALL_TARGETS := ioapic lapic msi uart16550 testdev fwcfg legacy elf multiboot bzimage unpack acpi options

# The model/loader sources each fuzzer compiles in (besides fuzz/fuzz_<target>.c).
fuzz_srcs_ioapic    := src/devices/ioapic.c
fuzz_srcs_lapic     := src/devices/lapic.c src/devices/eoi_policy.c
fuzz_srcs_msi       := src/devices/msi.c
fuzz_srcs_uart16550 := src/devices/uart16550.c
fuzz_srcs_testdev   := src/devices/testdev.c
fuzz_srcs_fwcfg     := src/devices/fwcfg.c
fuzz_srcs_legacy    := src/devices/pic8259.c src/devices/pit8254.c src/devices/cmos.c \
                       src/devices/i8042.c
fuzz_srcs_elf       := src/loader/elf.c
fuzz_srcs_multiboot := src/loader/multiboot.c src/loader/elf.c
fuzz_srcs_bzimage   := src/loader/bzimage.c src/loader/unpack.c src/loader/elf.c \
                       src/loader/linux_entry.c
fuzz_srcs_unpack    := $(fuzz_srcs_bzimage)
fuzz_srcs_acpi      := src/loader/acpi.c
fuzz_srcs_options   := src/cli/options.c
# Libraries a fuzzer links (the decompressors for unpack).
fuzz_libs_bzimage   := $(EXTRA_LIBS)
fuzz_libs_unpack    := $(EXTRA_LIBS)

fuzz_missing = $(filter-out $(wildcard $(1)),$(1))
fuzz_empty   :=
fuzz_space   := $(fuzz_empty) $(fuzz_empty)
FUZZ_READY   := $(foreach t,$(FUZZ_ALL_TARGETS),$(if $(call fuzz_missing,fuzz/fuzz_$(t).c $(fuzz_srcs_$(t))),,$(t)))
FUZZ_WAITING := $(filter-out $(FUZZ_READY),$(FUZZ_ALL_TARGETS))
FUZZ         ?= $(FUZZ_READY)
FUZZ_BINS    := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(filter $(FUZZ_READY),$(FUZZ)))
FUZZ_HEADERS := $(wildcard fuzz/*.h src/devices/*.h src/loader/*.h src/cli/*.h)

define fuzz_rule
$(FUZZ_DIR)/fuzz_$(1): fuzz/fuzz_$(1).c $(fuzz_srcs_$(1)) $(FUZZ_HEADERS) fuzz/fuzz.mk
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) fuzz/fuzz_$(1).c $(fuzz_srcs_$(1)) $(fuzz_libs_$(1)) -o $$@
endef
$(foreach t,$(FUZZ_READY),$(eval $(call fuzz_rule,$(t))))

.PHONY: fuzz fuzz-build fuzz-list fuzz-clean
fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	FUZZ_DIR=$(FUZZ_DIR) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_SUMMARY=fuzz \
	    fuzz/run-fuzzers.sh $(filter $(FUZZ_READY),$(FUZZ)) \
	    $(foreach t,$(filter $(FUZZ_WAITING),$(FUZZ)),--waiting=$(t):$(subst $(fuzz_space),+,$(call fuzz_missing,fuzz/fuzz_$(t).c $(fuzz_srcs_$(t)))))

# One line per target: "ready <t>" or "waiting <t> <missing files>" (fuzz_smoke.sh reads this).
fuzz-list:
	@$(foreach t,$(FUZZ_READY),echo 'ready $(t)';)
	@$(foreach t,$(FUZZ_WAITING),echo 'waiting $(t) $(call fuzz_missing,fuzz/fuzz_$(t).c $(fuzz_srcs_$(t)))';)

fuzz-clean:
	rm -rf $(FUZZ_DIR)

# For fuzz/coverage.sh: the sources and libraries of the targets in FUZZ.
.PHONY: fuzz-srcs fuzz-libs
fuzz-srcs:
	@echo $(foreach t,$(FUZZ),$(fuzz_srcs_$(t)))
fuzz-libs:
	@echo $(foreach t,$(FUZZ),$(fuzz_libs_$(t)))
