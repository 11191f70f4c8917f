/* SPDX-License-Identifier: MIT */
/*
 * The VM-wide EOI-broadcast-suppression policy (spec eoi.md §3, §4, §6).
 *
 * Two decisions live here, one function each:
 *   - advertise: does LVR bit 24 (Directed EOI) show, so SVR bit 12 is writable?
 *   - suppress:  does a level EOI skip the broadcast to the IOAPIC?
 *
 * It has two front doors with KVM's exact error codes: the X2APIC_API flags
 * upstream merged, and the SPLIT_IRQCHIP_API capability the seed proposed.
 * Pure C; the KVM backend negotiates with the kernel and mirrors the result
 * here, the software LAPIC consults it directly.
 */
#ifndef LAPIS_EOI_POLICY_H
#define LAPIS_EOI_POLICY_H

#include <stdbool.h>
#include <stdint.h>

/* Capability numbers, as KVM numbers them. */
#define LAPIS_CAP_X2APIC_API 129u
/* The seed's proposal; never probe this number on a real kernel (it is GUEST_MEMFD_FLAGS). */
#define LAPIS_CAP_SPLIT_IRQCHIP_API 244u

/* KVM_CAP_X2APIC_API flags */
#define LAPIS_X2APIC_API_USE_32BIT_IDS              (1ull << 0)
#define LAPIS_X2APIC_API_DISABLE_BROADCAST_QUIRK    (1ull << 1)
#define LAPIS_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST  (1ull << 2)
#define LAPIS_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST (1ull << 3)
#define LAPIS_X2APIC_API_VALID_FLAGS                0xFull

/* KVM_CAP_SPLIT_IRQCHIP_API flag (seed) */
#define LAPIS_SPLIT_IRQCHIP_API_DISABLE_EOI_BROADCAST_SUPPRESSION (1ull << 0)

/* LAPIC bits the policy governs */
#define LAPIS_LVR_DIRECTED_EOI    (1u << 24)
#define LAPIS_SVR_SUPPRESS_EOI_BC (1u << 12)

enum lapis_eoi_mode {
    LAPIS_EOI_MODE_QUIRK = 0, /* KVM's default: advertise, but never suppress (the bug) */
    LAPIS_EOI_MODE_ENABLE,    /* advertise and honour SVR bit 12 */
    LAPIS_EOI_MODE_DISABLE,   /* never advertise; always broadcast */
};

enum lapis_irqchip_kind {
    LAPIS_IRQCHIP_NONE = 0, /* no irqchip yet */
    LAPIS_IRQCHIP_KERNEL,   /* IOAPIC beside the LAPIC (KVM's in-kernel 0x11 IOAPIC) */
    LAPIS_IRQCHIP_SPLIT,    /* IOAPIC elsewhere: the VMM's (split, or lapis's user mode) */
};

struct lapis_eoi_policy {
    enum lapis_irqchip_kind irqchip;
    enum lapis_eoi_mode mode;
    bool seed_disable;   /* SPLIT_IRQCHIP_API's DISABLE flag */
    uint64_t x2apic_api; /* X2APIC_API flags last enabled (bits 0-1 kept) */
    unsigned created_vcpus;
};

void lapis_eoi_policy_init(struct lapis_eoi_policy *policy);
/* Models KVM_CREATE_IRQCHIP / KVM_CAP_SPLIT_IRQCHIP. -EEXIST if already set, -EINVAL once vCPUs
 * exist. */
int lapis_eoi_policy_set_irqchip(struct lapis_eoi_policy *policy, enum lapis_irqchip_kind kind);
/* Counts a vCPU creation (the seed's cap refuses after the first). */
void lapis_eoi_policy_vcpu_created(struct lapis_eoi_policy *policy);

/*
 * KVM_CHECK_EXTENSION on the VM. X2APIC_API: 0xF with a split irqchip, else
 * 0xB. SPLIT_IRQCHIP_API: the DISABLE flag. Anything else: 0.
 */
int64_t lapis_eoi_policy_check_extension(const struct lapis_eoi_policy *policy, unsigned cap);

/*
 * KVM_ENABLE_CAP on the VM.
 * X2APIC_API: -EINVAL for unknown bits, for both suppression flags, for ENABLE
 *   without a split irqchip; DISABLE works in any mode; last flag wins.
 * SPLIT_IRQCHIP_API: -ENXIO unless split, -EINVAL once a vCPU exists or for
 *   unknown flags; stores the flag.
 * Other caps: -EINVAL.
 */
int lapis_eoi_policy_enable_cap(struct lapis_eoi_policy *policy, unsigned cap, uint64_t flags);

/* Forces a mode (the VMM's --eoi-suppression); unknown values are ignored. */
void lapis_eoi_policy_set_mode(struct lapis_eoi_policy *policy, enum lapis_eoi_mode mode);

/*
 * Decision 1: is LVR bit 24 set for a vCPU whose CPUID has/lacks x2APIC?
 * Never with the IOAPIC in the kernel, never in DISABLE mode or with the
 * seed's DISABLE flag; otherwise (quirk, ENABLE) iff the guest has x2APIC.
 * LAPIS_IRQCHIP_NONE counts as "IOAPIC not in the kernel", as KVM tests it.
 */
bool lapis_eoi_policy_advertise_directed_eoi(const struct lapis_eoi_policy *policy,
                                             bool guest_has_x2apic);
/*
 * Decision 2: does a level EOI on a LAPIC with this SVR skip the broadcast?
 * Only in ENABLE mode with SVR bit 12 set (and Directed EOI advertisable:
 * never with the seed's DISABLE flag or an in-kernel IOAPIC). Quirk ignores
 * SVR bit 12: that is KVM's default behaviour, modelled faithfully.
 */
bool lapis_eoi_policy_suppress_broadcast(const struct lapis_eoi_policy *policy, uint32_t svr);

/* "quirk", "enable", "disable"; "invalid" for anything else. */
const char *lapis_eoi_mode_name(enum lapis_eoi_mode mode);
/* Parses "quirk", "enable", "disable" (exact, lower case). Returns 0 or -EINVAL. */
int lapis_eoi_mode_parse(const char *name, enum lapis_eoi_mode *mode);

#endif
