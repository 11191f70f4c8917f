# The conformance suite (included by the top Makefile).
#
#   $(BUILD)/guest/conformance.elf   the scenarios in a freestanding guest (hw = instructions)
#   $(BUILD)/liblapis-conformance.a  scenarios on the models (hw = src/devices), the runner
#   $(BUILD)/lapis-conformance       the runner as its own program
#   make conformance [CONF_ARGS=...] build and run it

CONF_SHARED_SRCS := conformance/conf.c $(sort $(wildcard conformance/scenarios/*.c))
CONF_HOST_SRCS   := $(CONF_SHARED_SRCS) $(sort $(wildcard conformance/model/*.c)) \
                    $(sort $(wildcard conformance/runner/*.c))
CONF_HOST_OBJS   := $(call obj,$(CONF_HOST_SRCS))
CONF_MAIN_OBJ    := $(BUILD)/conformance/main.o
CONF_LIB         := $(BUILD)/liblapis-conformance.a
CONF_BIN         := $(BUILD)/lapis-conformance

CONF_GUEST_SRCS := $(CONF_SHARED_SRCS) conformance/guest/hw_guest.c
CONF_GUEST_OBJS := $(patsubst conformance/%.c,$(BUILD)/guest/conformance/%.o,$(CONF_GUEST_SRCS))
CONF_GUEST_ELF  := $(BUILD)/guest/conformance.elf

$(CONF_HOST_OBJS) $(CONF_MAIN_OBJ): CFLAGS += -Iconformance

$(CONF_LIB): $(CONF_HOST_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(CONF_BIN): $(CONF_MAIN_OBJ) $(CONF_LIB) $(BUILD)/liblapis.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(CONF_GUEST_OBJS): $(BUILD)/guest/conformance/%.o: conformance/%.c conformance/conformance.mk
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -Iconformance -DCONF_GUEST -c $< -o $@

$(BUILD)/guest/conformance.elf64: $(CONF_GUEST_OBJS) $(GUEST_LIB_OBJS) guest/guest.ld
	$(CC) $(GUEST_LDFLAGS) -o $@ $(CONF_GUEST_OBJS) $(GUEST_LIB_OBJS)
.SECONDARY: $(BUILD)/guest/conformance.elf64

# The model unit test links the suite's library (after it, liblapis.a again for its symbols).
$(BUILD)/tests/unit/test_conformance_model.o: CFLAGS += -Iconformance
$(BUILD)/tests/test_conformance_model: $(CONF_LIB)
$(BUILD)/tests/test_conformance_model: LDLIBS += $(BUILD)/liblapis.a

# `lapis conformance`: main.c calls lapis_conformance_main() (lapis_conformance.h).
$(BUILD)/src/cli/main.o: CFLAGS += -Iconformance
$(BUILD)/lapis: $(CONF_LIB)
$(BUILD)/lapis: LDLIBS += $(BUILD)/liblapis.a

.PHONY: conformance conformance-build
all: conformance-build
conformance-build: $(CONF_BIN) $(CONF_GUEST_ELF) $(BUILD)/lapis
conformance: conformance-build
	$(CONF_BIN) $(CONF_ARGS)
