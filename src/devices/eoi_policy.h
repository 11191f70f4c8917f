/* SPDX-License-Identifier: MIT */
/*
 * The VM-wide EOI-broadcast-suppression policy (spec eoi.md §3, §4, §6).
 *
 * Two decisions live here, one function each:
 *   - advertise: does LVR bit 24 (Directed EOI) show, so SVR bit 12 is writable?
 *   - suppress:  does a level EOI skip the broadcast to the IOAPIC?
 * and the negotiation before them: which mode a request gets, for an irqchip
 * kind, a kernel with or without the flags and an IOAPIC version (§6).
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

/* What the VMM's user asked for (--eoi-suppression). The values are saved in snapshots. */
enum lapis_eoi_request {
    LAPIS_EOI_REQ_AUTO = 0,
    LAPIS_EOI_REQ_ENABLE,
    LAPIS_EOI_REQ_DISABLE,
    LAPIS_EOI_REQ_QUIRK,
};

/* The VMM's irqchip: whose LAPIC decides about Directed EOI, and whose IOAPIC takes EOIs. */
enum lapis_eoi_backend {
    LAPIS_EOI_BACKEND_KERNEL = 0, /* KVM's LAPIC beside KVM's 0x11 IOAPIC (--irqchip kernel) */
    LAPIS_EOI_BACKEND_SPLIT,      /* KVM's LAPIC, the VMM's IOAPIC: the kernel's flags decide */
    LAPIS_EOI_BACKEND_USER,       /* the VMM's LAPIC (this policy) and IOAPIC: the kernel's
                                     flags do not matter, this policy always has them */
};

/* The outcome of lapis_eoi_negotiate(). */
struct lapis_eoi_choice {
    /* X2APIC_API flags to enable: on KVM (kernel, split) or on this policy (user); 0: none */
    uint64_t x2apic_api_flags;
    enum lapis_eoi_mode mode; /* the policy's mode once they are enabled */
    bool emulate_fix;         /* quirked kernel: the VMM drops EOI exits while SVR.12 is set */
    bool no_eoir_warning;     /* quirked with a 0x11 IOAPIC: a Directed EOI guest gets stuck */
};

/*
 * Does KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API) = @caps on a VM offer what the
 * negotiation needs? With split irqchip both suppression flags; without it
 * only DISABLE is valid (the VM fd says 0xB). A failed check (< 0) has none.
 */
bool lapis_eoi_kernel_has_flags(int64_t caps, bool split_irqchip);

/*
 * The negotiation of spec eoi.md §6: @request x @backend x @kernel_has_flags
 * (lapis_eoi_kernel_has_flags(); ignored for USER) x @ioapic_version.
 * auto: KERNEL -> quirk (KVM never offers Directed EOI beside its IOAPIC);
 *   SPLIT with flags and USER -> ENABLE with an EOIR (0x20+), else DISABLE;
 *   SPLIT without flags -> quirk, emulating the fix with 0x20+, warning with 0x11.
 * enable/disable: forced. -EINVAL for enable with KERNEL, -EOPNOTSUPP when
 *   KVM lacks the flag (never for USER). quirk: no flags.
 * Returns 0 with @out filled, or the error with @out zeroed.
 */
int lapis_eoi_negotiate(enum lapis_eoi_request request, enum lapis_eoi_backend backend,
                        bool kernel_has_flags, unsigned ioapic_version,
                        struct lapis_eoi_choice *out);

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
