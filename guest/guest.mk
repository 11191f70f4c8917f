# Freestanding guests: multiboot v1, entered in 32-bit protected mode, run in
# long mode. Each guest/progs/<name>.c becomes $(BUILD)/guest/<name>.elf, an
# ELF32 image (QEMU's -kernel accepts only ELF32 multiboot images): compiled
# as 64-bit code, linked at 0x100000, then converted with objcopy.

OBJCOPY ?= objcopy

GUEST_CFLAGS := -std=gnu11 -m64 -ffreestanding -fno-pic -fno-pie -mno-red-zone \
    -mgeneral-regs-only -mno-sse -mno-mmx -fno-stack-protector -nostdlib -O2 -g \
    -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-common \
    -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
    -Iguest/lib -Iguest/boot -MMD -MP
# GCC would turn the library's own loops back into mem*/str* calls.
GUEST_CFLAGS += $(shell $(CC) -fno-tree-loop-distribute-patterns -x c -c /dev/null \
    -o /dev/null 2>/dev/null && echo -fno-tree-loop-distribute-patterns)
GUEST_ASFLAGS := -m64 -fno-pic -Iguest/boot -MMD -MP
GUEST_LDFLAGS := -m64 -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=0x1000 \
    -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments -T guest/guest.ld

GUEST_BOOT_SRCS := $(sort $(wildcard guest/boot/*.S))
GUEST_LIB_SRCS  := $(sort $(wildcard guest/lib/*.c))
GUEST_PROG_SRCS := $(sort $(wildcard guest/progs/*.c))

GUEST_LIB_OBJS := $(patsubst guest/%.S,$(BUILD)/guest/%.o,$(GUEST_BOOT_SRCS)) \
                  $(patsubst guest/%.c,$(BUILD)/guest/%.o,$(GUEST_LIB_SRCS))
GUEST_PROG_OBJS := $(patsubst guest/%.c,$(BUILD)/guest/%.o,$(GUEST_PROG_SRCS))
GUEST_ELFS := $(patsubst guest/progs/%.c,$(BUILD)/guest/%.elf,$(GUEST_PROG_SRCS))

$(patsubst guest/%.c,$(BUILD)/guest/%.o,$(GUEST_LIB_SRCS) $(GUEST_PROG_SRCS)): \
        $(BUILD)/guest/%.o: guest/%.c guest/guest.mk
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(patsubst guest/%.S,$(BUILD)/guest/%.o,$(GUEST_BOOT_SRCS)): \
        $(BUILD)/guest/%.o: guest/%.S guest/guest.mk
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_ASFLAGS) -c $< -o $@

# The 64-bit link, then the ELF32 wrapper that multiboot loaders take.
$(BUILD)/guest/%.elf64: $(BUILD)/guest/progs/%.o $(GUEST_LIB_OBJS) guest/guest.ld
	$(CC) $(GUEST_LDFLAGS) -o $@ $(BUILD)/guest/progs/$*.o $(GUEST_LIB_OBJS)

$(BUILD)/guest/%.elf: $(BUILD)/guest/%.elf64
	$(OBJCOPY) -O elf32-i386 $< $@

.SECONDARY: $(patsubst %.elf,%.elf64,$(GUEST_ELFS))
