/* SPDX-License-Identifier: MIT */
/*
 * The VM-wide EOI-broadcast-suppression policy: two front doors (upstream's
 * X2APIC_API flags, the seed's SPLIT_IRQCHIP_API) onto one mode, and the two
 * decisions (advertise Directed EOI? suppress this broadcast?), and the
 * negotiation that picks a mode for a request (§6). Facts: spec eoi.md §3, §4, §6.
 */
#include "eoi_policy.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define SUPPRESS_FLAGS                                                                             \
    (LAPIS_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST | LAPIS_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST)
#define X2APIC_API_LEGACY_FLAGS                                                                    \
    (LAPIS_X2APIC_API_USE_32BIT_IDS | LAPIS_X2APIC_API_DISABLE_BROADCAST_QUIRK)

void lapis_eoi_policy_init(struct lapis_eoi_policy *policy)
{
    memset(policy, 0, sizeof(*policy));
    policy->irqchip = LAPIS_IRQCHIP_NONE;
    policy->mode = LAPIS_EOI_MODE_QUIRK;
}

int lapis_eoi_policy_set_irqchip(struct lapis_eoi_policy *policy, enum lapis_irqchip_kind kind)
{
    if (kind != LAPIS_IRQCHIP_KERNEL && kind != LAPIS_IRQCHIP_SPLIT)
        return -EINVAL;
    /* KVM: a second KVM_CREATE_IRQCHIP or SPLIT_IRQCHIP is -EEXIST. */
    if (policy->irqchip != LAPIS_IRQCHIP_NONE)
        return -EEXIST;
    if (policy->created_vcpus)
        return -EINVAL;
    policy->irqchip = kind;
    return 0;
}

void lapis_eoi_policy_vcpu_created(struct lapis_eoi_policy *policy)
{
    if (policy->created_vcpus != ~0u)
        policy->created_vcpus++;
}

int64_t lapis_eoi_policy_check_extension(const struct lapis_eoi_policy *policy, unsigned cap)
{
    switch (cap) {
    case LAPIS_CAP_X2APIC_API:
        /* ENABLE is only offered once the IOAPIC is known to be in userspace. */
        if (policy->irqchip == LAPIS_IRQCHIP_SPLIT)
            return (int64_t)LAPIS_X2APIC_API_VALID_FLAGS;
        return (int64_t)(LAPIS_X2APIC_API_VALID_FLAGS &
                         ~LAPIS_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST);
    case LAPIS_CAP_SPLIT_IRQCHIP_API:
        return (int64_t)LAPIS_SPLIT_IRQCHIP_API_DISABLE_EOI_BROADCAST_SUPPRESSION;
    default:
        return 0;
    }
}

static int enable_x2apic_api(struct lapis_eoi_policy *policy, uint64_t flags)
{
    if (flags & ~LAPIS_X2APIC_API_VALID_FLAGS)
        return -EINVAL;
    if ((flags & SUPPRESS_FLAGS) == SUPPRESS_FLAGS)
        return -EINVAL;
    if ((flags & LAPIS_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST) &&
        policy->irqchip != LAPIS_IRQCHIP_SPLIT)
        return -EINVAL;
    /* Bits 0-1 are one-way switches in KVM: set, never cleared. */
    policy->x2apic_api |= flags & X2APIC_API_LEGACY_FLAGS;
    /* No vCPU check and no way back to quirk: the last flag given wins. */
    if (flags & LAPIS_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST)
        policy->mode = LAPIS_EOI_MODE_ENABLE;
    if (flags & LAPIS_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST)
        policy->mode = LAPIS_EOI_MODE_DISABLE;
    return 0;
}

static int enable_split_irqchip_api(struct lapis_eoi_policy *policy, uint64_t flags)
{
    /* The seed's order: the irqchip check first, then vCPUs. */
    if (policy->irqchip != LAPIS_IRQCHIP_SPLIT)
        return -ENXIO;
    if (policy->created_vcpus)
        return -EINVAL;
    if (flags & ~LAPIS_SPLIT_IRQCHIP_API_DISABLE_EOI_BROADCAST_SUPPRESSION)
        return -EINVAL;
    policy->seed_disable = (flags & LAPIS_SPLIT_IRQCHIP_API_DISABLE_EOI_BROADCAST_SUPPRESSION) != 0;
    return 0;
}

int lapis_eoi_policy_enable_cap(struct lapis_eoi_policy *policy, unsigned cap, uint64_t flags)
{
    switch (cap) {
    case LAPIS_CAP_X2APIC_API:
        return enable_x2apic_api(policy, flags);
    case LAPIS_CAP_SPLIT_IRQCHIP_API:
        return enable_split_irqchip_api(policy, flags);
    default:
        return -EINVAL;
    }
}

void lapis_eoi_policy_set_mode(struct lapis_eoi_policy *policy, enum lapis_eoi_mode mode)
{
    switch (mode) {
    case LAPIS_EOI_MODE_QUIRK:
    case LAPIS_EOI_MODE_ENABLE:
    case LAPIS_EOI_MODE_DISABLE:
        policy->mode = mode;
        break;
    default:
        break; /* not a mode: keep the current one */
    }
}

bool lapis_eoi_policy_advertise_directed_eoi(const struct lapis_eoi_policy *policy,
                                             bool guest_has_x2apic)
{
    /*
     * KVM tests "IOAPIC in the kernel", not "split": a beside-the-LAPIC IOAPIC
     * (0x11, no EOIR) can't serve a guest that suppresses broadcasts.
     */
    if (policy->irqchip == LAPIS_IRQCHIP_KERNEL)
        return false;
    if (policy->seed_disable)
        return false;
    switch (policy->mode) {
    case LAPIS_EOI_MODE_QUIRK:
    case LAPIS_EOI_MODE_ENABLE:
        return guest_has_x2apic;
    case LAPIS_EOI_MODE_DISABLE:
    default:
        return false;
    }
}

bool lapis_eoi_policy_suppress_broadcast(const struct lapis_eoi_policy *policy, uint32_t svr)
{
    /* Quirk ignores SVR bit 12 on purpose: that is KVM's default (the bug). */
    if (policy->mode != LAPIS_EOI_MODE_ENABLE)
        return false;
    /* What is not advertised is never honoured. */
    if (policy->seed_disable || policy->irqchip == LAPIS_IRQCHIP_KERNEL)
        return false;
    return (svr & LAPIS_SVR_SUPPRESS_EOI_BC) != 0;
}

bool lapis_eoi_kernel_has_flags(int64_t caps, bool split_irqchip)
{
    uint64_t need = split_irqchip ? SUPPRESS_FLAGS : LAPIS_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST;

    return caps >= 0 && ((uint64_t)caps & need) == need;
}

int lapis_eoi_negotiate(enum lapis_eoi_request request, enum lapis_eoi_backend backend,
                        bool kernel_has_flags, unsigned ioapic_version,
                        struct lapis_eoi_choice *out)
{
    /* Directed EOI is only safe with an IOAPIC that has EOIR (§5). */
    const uint64_t by_version = ioapic_version >= 0x20
                                    ? LAPIS_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST
                                    : LAPIS_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST;
    bool has_flags;

    memset(out, 0, sizeof(*out));
    out->mode = LAPIS_EOI_MODE_QUIRK;
    switch (backend) {
    case LAPIS_EOI_BACKEND_KERNEL:
    case LAPIS_EOI_BACKEND_SPLIT:
        has_flags = kernel_has_flags;
        break;
    case LAPIS_EOI_BACKEND_USER:
        has_flags = true; /* lapis's own LAPIC: this policy has both flags, whatever the kernel */
        break;
    default:
        return -EINVAL;
    }

    switch (request) {
    case LAPIS_EOI_REQ_AUTO:
        if (backend == LAPIS_EOI_BACKEND_KERNEL)
            return 0; /* KVM never offers Directed EOI beside its own IOAPIC (§4 table) */
        if (has_flags)
            out->x2apic_api_flags = by_version;
        else if (ioapic_version >= 0x20)
            out->emulate_fix = true; /* the kernel stays quirked; the VMM drops the broadcast */
        else
            out->no_eoir_warning = true;
        break;
    case LAPIS_EOI_REQ_ENABLE:
        if (backend == LAPIS_EOI_BACKEND_KERNEL)
            return -EINVAL; /* KVM's in-kernel IOAPIC has no EOIR */
        if (!has_flags)
            return -EOPNOTSUPP;
        out->x2apic_api_flags = LAPIS_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST;
        break;
    case LAPIS_EOI_REQ_DISABLE:
        if (!has_flags)
            return -EOPNOTSUPP;
        out->x2apic_api_flags = LAPIS_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST;
        break;
    case LAPIS_EOI_REQ_QUIRK:
        return 0; /* the kernel's default, bug included */
    default:
        return -EINVAL;
    }
    if (out->x2apic_api_flags & LAPIS_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST)
        out->mode = LAPIS_EOI_MODE_ENABLE;
    else if (out->x2apic_api_flags & LAPIS_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST)
        out->mode = LAPIS_EOI_MODE_DISABLE;
    else if (out->emulate_fix)
        out->mode = LAPIS_EOI_MODE_ENABLE; /* done in userspace, mirrored as ENABLE */
    return 0;
}

const char *lapis_eoi_mode_name(enum lapis_eoi_mode mode)
{
    switch (mode) {
    case LAPIS_EOI_MODE_QUIRK:
        return "quirk";
    case LAPIS_EOI_MODE_ENABLE:
        return "enable";
    case LAPIS_EOI_MODE_DISABLE:
        return "disable";
    default:
        return "invalid";
    }
}

int lapis_eoi_mode_parse(const char *name, enum lapis_eoi_mode *mode)
{
    static const enum lapis_eoi_mode modes[] = {LAPIS_EOI_MODE_QUIRK, LAPIS_EOI_MODE_ENABLE,
                                                LAPIS_EOI_MODE_DISABLE};
    if (!name || !mode)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(name, lapis_eoi_mode_name(modes[i])) == 0) {
            *mode = modes[i];
            return 0;
        }
    }
    return -EINVAL;
}
