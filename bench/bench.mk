# Benchmarks (bench/README.md): `make bench` runs every bench guest under lapis
# and QEMU and prints the comparison table; JSON goes to bench/results/.
#   make bench BENCH_ARGS='--reps 5 --n 20000'     more repetitions / operations
#   make bench BENCH_ARGS='--no-qemu'              lapis only
# Not part of `make check` (tests/integration/bench_smoke.sh is the tiny version).

BENCH_ARGS ?=
# The host is shared and noisy: run above the default priority when allowed.
BENCH_NICE ?= $(if $(filter 0,$(shell id -u)),nice -n -5,)
BENCH_GUESTS := $(filter $(BUILD)/guest/bench_%,$(GUEST_ELFS))

.PHONY: bench
$(BUILD)/bench/vmrun: bench/vmrun.c bench/bench.mk
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=gnu11 $(WARNFLAGS) -D_GNU_SOURCE $< -o $@

bench: $(BUILD)/lapis $(BENCH_GUESTS) $(BUILD)/bench/vmrun
	BENCH_REPRODUCE="make bench$(if $(BENCH_ARGS), BENCH_ARGS='$(BENCH_ARGS)')" \
	    $(BENCH_NICE) python3 bench/bench.py --build $(BUILD) --vmrun $(BUILD)/bench/vmrun $(BENCH_ARGS)

# The same inside a nested standard KVM (Debian's 7.x kernel, kvm_amd in QEMU TCG),
# lapis and QEMU both in there: make bench-nested [NESTED_KERNEL=6.1] [BENCH_ARGS=...]
NESTED_KERNEL ?= 7
.PHONY: bench-nested
bench-nested: $(BUILD)/lapis $(BENCH_GUESTS) $(BUILD)/bench/vmrun
	tests/nested/run --timeout 5400 $(NESTED_KERNEL) -- env \
	    BENCH_REPRODUCE="make bench-nested NESTED_KERNEL=$(NESTED_KERNEL)$(if $(BENCH_ARGS), BENCH_ARGS='$(BENCH_ARGS)')" \
	    python3 bench/bench.py --build $(BUILD) --vmrun $(BUILD)/bench/vmrun $(BENCH_ARGS)
