/* SPDX-License-Identifier: MIT */
/*
 * The VM-wide EOI policy: both capability front doors, the two decisions
 * (spec eoi.md §3-§4) and the negotiation of a request (§6).
 */
#include <errno.h>

#include "devices/eoi_policy.h"
#include "../harness.h"

#define SVR_ON  (0x1FFu | LAPIS_SVR_SUPPRESS_EOI_BC)
#define SVR_OFF 0x1FFu

static struct lapis_eoi_policy make(enum lapis_irqchip_kind kind)
{
    struct lapis_eoi_policy p;

    lapis_eoi_policy_init(&p);
    if (kind != LAPIS_IRQCHIP_NONE)
        CHECK_EQ(lapis_eoi_policy_set_irqchip(&p, kind), 0);
    return p;
}

static void test_init_defaults(void)
{
    struct lapis_eoi_policy p;

    memset(&p, 0xA5, sizeof(p));
    lapis_eoi_policy_init(&p);
    CHECK_EQ(p.irqchip, LAPIS_IRQCHIP_NONE);
    CHECK_EQ(p.mode, LAPIS_EOI_MODE_QUIRK);
    CHECK(!p.seed_disable);
    CHECK_EQ(p.x2apic_api, 0);
    CHECK_EQ(p.created_vcpus, 0);
}

static void test_set_irqchip_rules(void)
{
    struct lapis_eoi_policy p;

    lapis_eoi_policy_init(&p);
    CHECK_EQ(lapis_eoi_policy_set_irqchip(&p, LAPIS_IRQCHIP_NONE), -EINVAL);
    CHECK_EQ(lapis_eoi_policy_set_irqchip(&p, (enum lapis_irqchip_kind)7), -EINVAL);
    CHECK_EQ(lapis_eoi_policy_set_irqchip(&p, LAPIS_IRQCHIP_SPLIT), 0);
    CHECK_EQ(p.irqchip, LAPIS_IRQCHIP_SPLIT);
    CHECK_EQ(lapis_eoi_policy_set_irqchip(&p, LAPIS_IRQCHIP_KERNEL), -EEXIST);
    CHECK_EQ(lapis_eoi_policy_set_irqchip(&p, LAPIS_IRQCHIP_SPLIT), -EEXIST);
    CHECK_EQ(p.irqchip, LAPIS_IRQCHIP_SPLIT);

    lapis_eoi_policy_init(&p);
    lapis_eoi_policy_vcpu_created(&p);
    CHECK_EQ(p.created_vcpus, 1);
    CHECK_EQ(lapis_eoi_policy_set_irqchip(&p, LAPIS_IRQCHIP_SPLIT), -EINVAL);
    CHECK_EQ(p.irqchip, LAPIS_IRQCHIP_NONE);
    lapis_eoi_policy_vcpu_created(&p);
    CHECK_EQ(p.created_vcpus, 2);
}

static void test_check_extension(void)
{
    struct lapis_eoi_policy none = make(LAPIS_IRQCHIP_NONE);
    struct lapis_eoi_policy kern = make(LAPIS_IRQCHIP_KERNEL);
    struct lapis_eoi_policy split = make(LAPIS_IRQCHIP_SPLIT);

    CHECK_EQ(lapis_eoi_policy_check_extension(&none, LAPIS_CAP_X2APIC_API), 0xB);
    CHECK_EQ(lapis_eoi_policy_check_extension(&kern, LAPIS_CAP_X2APIC_API), 0xB);
    CHECK_EQ(lapis_eoi_policy_check_extension(&split, LAPIS_CAP_X2APIC_API), 0xF);
    CHECK_EQ(lapis_eoi_policy_check_extension(&none, LAPIS_CAP_SPLIT_IRQCHIP_API),
             LAPIS_SPLIT_IRQCHIP_API_DISABLE_EOI_BROADCAST_SUPPRESSION);
    CHECK_EQ(lapis_eoi_policy_check_extension(&split, LAPIS_CAP_SPLIT_IRQCHIP_API), 1);
    CHECK_EQ(lapis_eoi_policy_check_extension(&split, 0), 0);
    CHECK_EQ(lapis_eoi_policy_check_extension(&split, 243), 0);
    CHECK_EQ(lapis_eoi_policy_check_extension(&split, ~0u), 0);
}

static void test_x2apic_api_errors(void)
{
    struct lapis_eoi_policy p = make(LAPIS_IRQCHIP_SPLIT);
    const uint64_t en = LAPIS_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST;
    const uint64_t dis = LAPIS_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST;

    /* unknown bits */
    CHECK_EQ(lapis_eoi_policy_enable_cap(&p, LAPIS_CAP_X2APIC_API, 1ull << 4), -EINVAL);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&p, LAPIS_CAP_X2APIC_API, en | (1ull << 63)), -EINVAL);
    CHECK_EQ(p.mode, LAPIS_EOI_MODE_QUIRK);
    /* both suppression flags */
    CHECK_EQ(lapis_eoi_policy_enable_cap(&p, LAPIS_CAP_X2APIC_API, en | dis), -EINVAL);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&p, LAPIS_CAP_X2APIC_API, 0xF), -EINVAL);
    CHECK_EQ(p.mode, LAPIS_EOI_MODE_QUIRK);
    CHECK_EQ(p.x2apic_api, 0); /* a refused call changes nothing */

    /* ENABLE without split */
    struct lapis_eoi_policy k = make(LAPIS_IRQCHIP_KERNEL);
    struct lapis_eoi_policy n = make(LAPIS_IRQCHIP_NONE);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&k, LAPIS_CAP_X2APIC_API, en), -EINVAL);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&n, LAPIS_CAP_X2APIC_API, en), -EINVAL);
    CHECK_EQ(k.mode, LAPIS_EOI_MODE_QUIRK);
    CHECK_EQ(n.mode, LAPIS_EOI_MODE_QUIRK);

    /* DISABLE in any mode, and no vCPU-count check */
    CHECK_EQ(lapis_eoi_policy_enable_cap(&k, LAPIS_CAP_X2APIC_API, dis), 0);
    CHECK_EQ(k.mode, LAPIS_EOI_MODE_DISABLE);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&n, LAPIS_CAP_X2APIC_API, dis), 0);
    CHECK_EQ(n.mode, LAPIS_EOI_MODE_DISABLE);
    lapis_eoi_policy_vcpu_created(&p);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&p, LAPIS_CAP_X2APIC_API, en), 0);
    CHECK_EQ(p.mode, LAPIS_EOI_MODE_ENABLE);

    /* unknown capability */
    CHECK_EQ(lapis_eoi_policy_enable_cap(&p, 0, 0), -EINVAL);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&p, 244 + 1, 0), -EINVAL);
}

static void test_x2apic_api_last_flag_wins(void)
{
    struct lapis_eoi_policy p = make(LAPIS_IRQCHIP_SPLIT);
    const uint64_t en = LAPIS_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST;
    const uint64_t dis = LAPIS_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST;

    CHECK_EQ(lapis_eoi_policy_enable_cap(&p, LAPIS_CAP_X2APIC_API, en), 0);
    CHECK_EQ(p.mode, LAPIS_EOI_MODE_ENABLE);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&p, LAPIS_CAP_X2APIC_API, dis), 0);
    CHECK_EQ(p.mode, LAPIS_EOI_MODE_DISABLE);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&p, LAPIS_CAP_X2APIC_API, en), 0);
    CHECK_EQ(p.mode, LAPIS_EOI_MODE_ENABLE);
    /* No suppression flag: the mode stays; there is no way back to quirk. */
    CHECK_EQ(lapis_eoi_policy_enable_cap(&p, LAPIS_CAP_X2APIC_API, 0), 0);
    CHECK_EQ(p.mode, LAPIS_EOI_MODE_ENABLE);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&p, LAPIS_CAP_X2APIC_API, LAPIS_X2APIC_API_USE_32BIT_IDS),
             0);
    CHECK_EQ(p.mode, LAPIS_EOI_MODE_ENABLE);
    CHECK_EQ(p.x2apic_api, LAPIS_X2APIC_API_USE_32BIT_IDS);
    /* the old bits are one-way: kept across later calls */
    CHECK_EQ(lapis_eoi_policy_enable_cap(&p, LAPIS_CAP_X2APIC_API,
                                         LAPIS_X2APIC_API_DISABLE_BROADCAST_QUIRK | dis),
             0);
    CHECK_EQ(p.x2apic_api, 3);
    CHECK_EQ(p.mode, LAPIS_EOI_MODE_DISABLE);
    /* the VMM's override is the only way back */
    lapis_eoi_policy_set_mode(&p, LAPIS_EOI_MODE_QUIRK);
    CHECK_EQ(p.mode, LAPIS_EOI_MODE_QUIRK);
    lapis_eoi_policy_set_mode(&p, (enum lapis_eoi_mode)42);
    CHECK_EQ(p.mode, LAPIS_EOI_MODE_QUIRK);
}

static void test_seed_api_errors(void)
{
    const unsigned cap = LAPIS_CAP_SPLIT_IRQCHIP_API;
    const uint64_t flag = LAPIS_SPLIT_IRQCHIP_API_DISABLE_EOI_BROADCAST_SUPPRESSION;
    struct lapis_eoi_policy n = make(LAPIS_IRQCHIP_NONE);
    struct lapis_eoi_policy k = make(LAPIS_IRQCHIP_KERNEL);
    struct lapis_eoi_policy s = make(LAPIS_IRQCHIP_SPLIT);

    CHECK_EQ(lapis_eoi_policy_enable_cap(&n, cap, flag), -ENXIO);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&k, cap, flag), -ENXIO);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&k, cap, 0), -ENXIO);
    CHECK(!k.seed_disable);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&s, cap, 2), -EINVAL);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&s, cap, flag | (1ull << 40)), -EINVAL);
    CHECK(!s.seed_disable);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&s, cap, flag), 0);
    CHECK(s.seed_disable);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&s, cap, 0), 0); /* stores, so it can be cleared */
    CHECK(!s.seed_disable);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&s, cap, flag), 0);
    lapis_eoi_policy_vcpu_created(&s);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&s, cap, 0), -EINVAL);
    CHECK(s.seed_disable);
    /* the seed's flag leaves the upstream mode alone */
    CHECK_EQ(s.mode, LAPIS_EOI_MODE_QUIRK);
}

/* One row of spec §4's table (plus the seed's flag). */
struct row {
    const char *name;
    enum lapis_irqchip_kind irqchip;
    uint64_t x2apic_flags; /* enabled through the cap, 0 = none */
    bool seed_disable;
    bool adv_x2apic;    /* LVR bit 24 with x2APIC in CPUID */
    bool suppress_svr1; /* level EOI with SVR.12 = 1 skips the broadcast */
};

static void test_spec_table_rows(void)
{
    static const struct row rows[] = {
        {"quirk/split", LAPIS_IRQCHIP_SPLIT, 0, false, true, false},
        {"quirk/kernel", LAPIS_IRQCHIP_KERNEL, 0, false, false, false},
        {"enable/split", LAPIS_IRQCHIP_SPLIT, LAPIS_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST, false,
         true, true},
        {"disable/split", LAPIS_IRQCHIP_SPLIT, LAPIS_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST, false,
         false, false},
        {"disable/kernel", LAPIS_IRQCHIP_KERNEL, LAPIS_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST, false,
         false, false},
        {"seed-disable/split", LAPIS_IRQCHIP_SPLIT, 0, true, false, false},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct lapis_eoi_policy p = make(r->irqchip);

        harness_current = r->name;
        if (r->x2apic_flags)
            CHECK_EQ(lapis_eoi_policy_enable_cap(&p, LAPIS_CAP_X2APIC_API, r->x2apic_flags), 0);
        if (r->seed_disable)
            CHECK_EQ(lapis_eoi_policy_enable_cap(
                         &p, LAPIS_CAP_SPLIT_IRQCHIP_API,
                         LAPIS_SPLIT_IRQCHIP_API_DISABLE_EOI_BROADCAST_SUPPRESSION),
                     0);
        CHECK_EQ(lapis_eoi_policy_advertise_directed_eoi(&p, true), r->adv_x2apic);
        /* without x2APIC in CPUID, never */
        CHECK(!lapis_eoi_policy_advertise_directed_eoi(&p, false));
        /* SVR.12 = 0: every mode broadcasts */
        CHECK(!lapis_eoi_policy_suppress_broadcast(&p, SVR_OFF));
        CHECK(!lapis_eoi_policy_suppress_broadcast(&p, 0));
        CHECK_EQ(lapis_eoi_policy_suppress_broadcast(&p, SVR_ON), r->suppress_svr1);
        CHECK_EQ(lapis_eoi_policy_suppress_broadcast(&p, LAPIS_SVR_SUPPRESS_EOI_BC),
                 r->suppress_svr1);
        /* only bit 12 counts */
        CHECK(!lapis_eoi_policy_suppress_broadcast(&p, ~LAPIS_SVR_SUPPRESS_EOI_BC));
    }
    harness_current = "test_spec_table_rows";
}

static void test_quirk_is_the_bug(void)
{
    /* Quirk+split advertises Directed EOI yet ignores SVR bit 12: the storm of §5. */
    struct lapis_eoi_policy p = make(LAPIS_IRQCHIP_SPLIT);

    CHECK(lapis_eoi_policy_advertise_directed_eoi(&p, true));
    CHECK(!lapis_eoi_policy_suppress_broadcast(&p, SVR_ON));
    lapis_eoi_policy_set_mode(&p, LAPIS_EOI_MODE_ENABLE);
    CHECK(lapis_eoi_policy_suppress_broadcast(&p, SVR_ON));
    lapis_eoi_policy_set_mode(&p, LAPIS_EOI_MODE_DISABLE);
    CHECK(!lapis_eoi_policy_advertise_directed_eoi(&p, true));
    CHECK(!lapis_eoi_policy_suppress_broadcast(&p, SVR_ON));
}

static void test_forced_modes_and_no_irqchip(void)
{
    /* lapis's user LAPIC with no KVM irqchip: IOAPIC not in the kernel, as KVM tests it. */
    struct lapis_eoi_policy n = make(LAPIS_IRQCHIP_NONE);
    CHECK(lapis_eoi_policy_advertise_directed_eoi(&n, true));
    lapis_eoi_policy_set_mode(&n, LAPIS_EOI_MODE_ENABLE);
    CHECK(lapis_eoi_policy_advertise_directed_eoi(&n, true));
    CHECK(lapis_eoi_policy_suppress_broadcast(&n, SVR_ON));

    /* Forcing ENABLE beside an in-kernel IOAPIC can't advertise nor suppress. */
    struct lapis_eoi_policy k = make(LAPIS_IRQCHIP_KERNEL);
    lapis_eoi_policy_set_mode(&k, LAPIS_EOI_MODE_ENABLE);
    CHECK(!lapis_eoi_policy_advertise_directed_eoi(&k, true));
    CHECK(!lapis_eoi_policy_suppress_broadcast(&k, SVR_ON));

    /* The seed's flag wins over a forced ENABLE. */
    struct lapis_eoi_policy s = make(LAPIS_IRQCHIP_SPLIT);
    CHECK_EQ(lapis_eoi_policy_enable_cap(&s, LAPIS_CAP_SPLIT_IRQCHIP_API, 1), 0);
    lapis_eoi_policy_set_mode(&s, LAPIS_EOI_MODE_ENABLE);
    CHECK(!lapis_eoi_policy_advertise_directed_eoi(&s, true));
    CHECK(!lapis_eoi_policy_suppress_broadcast(&s, SVR_ON));
    CHECK_EQ(lapis_eoi_policy_enable_cap(&s, LAPIS_CAP_SPLIT_IRQCHIP_API, 0), 0);
    CHECK(lapis_eoi_policy_advertise_directed_eoi(&s, true));
    CHECK(lapis_eoi_policy_suppress_broadcast(&s, SVR_ON));
}

static void test_mode_names(void)
{
    enum lapis_eoi_mode m = LAPIS_EOI_MODE_DISABLE;

    CHECK_STR(lapis_eoi_mode_name(LAPIS_EOI_MODE_QUIRK), "quirk");
    CHECK_STR(lapis_eoi_mode_name(LAPIS_EOI_MODE_ENABLE), "enable");
    CHECK_STR(lapis_eoi_mode_name(LAPIS_EOI_MODE_DISABLE), "disable");
    CHECK_STR(lapis_eoi_mode_name((enum lapis_eoi_mode)99), "invalid");

    CHECK_EQ(lapis_eoi_mode_parse("quirk", &m), 0);
    CHECK_EQ(m, LAPIS_EOI_MODE_QUIRK);
    CHECK_EQ(lapis_eoi_mode_parse("enable", &m), 0);
    CHECK_EQ(m, LAPIS_EOI_MODE_ENABLE);
    CHECK_EQ(lapis_eoi_mode_parse("disable", &m), 0);
    CHECK_EQ(m, LAPIS_EOI_MODE_DISABLE);

    static const char *bad[] = {"", "auto", "Quirk", "enable ", "dis", "disabled", "invalid"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m = LAPIS_EOI_MODE_ENABLE;
        CHECK_EQ(lapis_eoi_mode_parse(bad[i], &m), -EINVAL);
        CHECK_EQ(m, LAPIS_EOI_MODE_ENABLE); /* untouched on error */
    }
    CHECK_EQ(lapis_eoi_mode_parse(NULL, &m), -EINVAL);
    CHECK_EQ(lapis_eoi_mode_parse("quirk", NULL), -EINVAL);

    /* round trip */
    for (int i = LAPIS_EOI_MODE_QUIRK; i <= LAPIS_EOI_MODE_DISABLE; i++) {
        CHECK_EQ(lapis_eoi_mode_parse(lapis_eoi_mode_name((enum lapis_eoi_mode)i), &m), 0);
        CHECK_EQ(m, i);
    }
}

/* ---- the negotiation (§6): request x irqchip kind x kernel flags x IOAPIC version ---- */

#define EN   LAPIS_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST
#define DIS  LAPIS_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST
#define Q    LAPIS_EOI_MODE_QUIRK
#define E    LAPIS_EOI_MODE_ENABLE
#define D    LAPIS_EOI_MODE_DISABLE
#define AUTO LAPIS_EOI_REQ_AUTO
#define RQ_E LAPIS_EOI_REQ_ENABLE
#define RQ_D LAPIS_EOI_REQ_DISABLE
#define RQ_Q LAPIS_EOI_REQ_QUIRK
#define KERN LAPIS_EOI_BACKEND_KERNEL
#define SPLT LAPIS_EOI_BACKEND_SPLIT
#define USER LAPIS_EOI_BACKEND_USER

struct nrow {
    enum lapis_eoi_request req;
    enum lapis_eoi_backend kind;
    bool flags; /* the kernel has ENABLE/DISABLE_SUPPRESS_EOI_BROADCAST */
    unsigned ioapic;
    int err;          /* 0, -EINVAL, -EOPNOTSUPP */
    uint64_t enabled; /* X2APIC_API flags to enable */
    enum lapis_eoi_mode mode;
    bool emulate, warn;
};

/* Every combination, spelled out: a change to any cell of §6 shows here. */
static const struct nrow negotiation[] = {
    /* auto */
    {AUTO, KERN, true, 0x11, 0, 0, Q, false, false},
    {AUTO, KERN, true, 0x20, 0, 0, Q, false, false},
    {AUTO, KERN, false, 0x11, 0, 0, Q, false, false},
    {AUTO, KERN, false, 0x20, 0, 0, Q, false, false},
    {AUTO, SPLT, true, 0x20, 0, EN, E, false, false},  /* §6 row 1 */
    {AUTO, SPLT, true, 0x11, 0, DIS, D, false, false}, /* §6 row 2 */
    {AUTO, SPLT, false, 0x20, 0, 0, E, true, false},   /* §6 row 3: enable-emulated */
    {AUTO, SPLT, false, 0x11, 0, 0, Q, false, true},   /* §6 row 4: quirk, warned */
    {AUTO, USER, true, 0x20, 0, EN, E, false, false},  /* lapis's LAPIC: */
    {AUTO, USER, true, 0x11, 0, DIS, D, false, false}, /* the kernel's flags */
    {AUTO, USER, false, 0x20, 0, EN, E, false, false}, /* do not matter */
    {AUTO, USER, false, 0x11, 0, DIS, D, false, false},
    /* enable */
    {RQ_E, KERN, true, 0x11, -EINVAL, 0, Q, false, false}, /* no EOIR beside the LAPIC */
    {RQ_E, KERN, true, 0x20, -EINVAL, 0, Q, false, false},
    {RQ_E, KERN, false, 0x11, -EINVAL, 0, Q, false, false},
    {RQ_E, KERN, false, 0x20, -EINVAL, 0, Q, false, false},
    {RQ_E, SPLT, true, 0x20, 0, EN, E, false, false},
    {RQ_E, SPLT, true, 0x11, 0, EN, E, false, false}, /* forced: stuck IRQs (§5) */
    {RQ_E, SPLT, false, 0x20, -EOPNOTSUPP, 0, Q, false, false},
    {RQ_E, SPLT, false, 0x11, -EOPNOTSUPP, 0, Q, false, false},
    {RQ_E, USER, true, 0x20, 0, EN, E, false, false},
    {RQ_E, USER, true, 0x11, 0, EN, E, false, false},
    {RQ_E, USER, false, 0x20, 0, EN, E, false, false},
    {RQ_E, USER, false, 0x11, 0, EN, E, false, false},
    /* disable */
    {RQ_D, KERN, true, 0x11, 0, DIS, D, false, false}, /* DISABLE works without split */
    {RQ_D, KERN, true, 0x20, 0, DIS, D, false, false},
    {RQ_D, KERN, false, 0x11, -EOPNOTSUPP, 0, Q, false, false},
    {RQ_D, KERN, false, 0x20, -EOPNOTSUPP, 0, Q, false, false},
    {RQ_D, SPLT, true, 0x20, 0, DIS, D, false, false},
    {RQ_D, SPLT, true, 0x11, 0, DIS, D, false, false},
    {RQ_D, SPLT, false, 0x20, -EOPNOTSUPP, 0, Q, false, false},
    {RQ_D, SPLT, false, 0x11, -EOPNOTSUPP, 0, Q, false, false},
    {RQ_D, USER, true, 0x20, 0, DIS, D, false, false},
    {RQ_D, USER, true, 0x11, 0, DIS, D, false, false},
    {RQ_D, USER, false, 0x20, 0, DIS, D, false, false},
    {RQ_D, USER, false, 0x11, 0, DIS, D, false, false},
    /* quirk: nothing enabled, anywhere */
    {RQ_Q, KERN, true, 0x11, 0, 0, Q, false, false},
    {RQ_Q, KERN, true, 0x20, 0, 0, Q, false, false},
    {RQ_Q, KERN, false, 0x11, 0, 0, Q, false, false},
    {RQ_Q, KERN, false, 0x20, 0, 0, Q, false, false},
    {RQ_Q, SPLT, true, 0x20, 0, 0, Q, false, false},
    {RQ_Q, SPLT, true, 0x11, 0, 0, Q, false, false},
    {RQ_Q, SPLT, false, 0x20, 0, 0, Q, false, false},
    {RQ_Q, SPLT, false, 0x11, 0, 0, Q, false, false},
    {RQ_Q, USER, true, 0x20, 0, 0, Q, false, false},
    {RQ_Q, USER, true, 0x11, 0, 0, Q, false, false},
    {RQ_Q, USER, false, 0x20, 0, 0, Q, false, false},
    {RQ_Q, USER, false, 0x11, 0, 0, Q, false, false},
};

static void test_negotiation_table(void)
{
    static const char *const reqs[] = {"auto", "enable", "disable", "quirk"};
    static const char *const kinds[] = {"kernel", "split", "user"};
    const size_t n = sizeof(negotiation) / sizeof(negotiation[0]);
    unsigned seen[4][3][2][2] = {{{{0}}}};
    char name[96];

    CHECK_EQ(n, 4 * 3 * 2 * 2);
    for (size_t i = 0; i < n; i++) {
        const struct nrow *r = &negotiation[i];
        struct lapis_eoi_choice c;

        snprintf(name, sizeof(name), "negotiate %s/%s, kernel %s flags, IOAPIC 0x%x", reqs[r->req],
                 kinds[r->kind], r->flags ? "with" : "without", r->ioapic);
        harness_current = name;
        seen[r->req][r->kind][r->flags][r->ioapic == 0x20]++;
        memset(&c, 0xA5, sizeof(c));
        CHECK_EQ(lapis_eoi_negotiate(r->req, r->kind, r->flags, r->ioapic, &c), r->err);
        CHECK_EQ(c.x2apic_api_flags, r->enabled);
        CHECK_EQ(c.mode, r->mode);
        CHECK_EQ(c.emulate_fix, r->emulate);
        CHECK_EQ(c.no_eoir_warning, r->warn);
        if (r->err)
            continue;
        /* What is chosen, the policy (KVM's rules) accepts, and lands in the same mode. */
        struct lapis_eoi_policy p =
            make(r->kind == KERN ? LAPIS_IRQCHIP_KERNEL : LAPIS_IRQCHIP_SPLIT);
        if (c.x2apic_api_flags)
            CHECK_EQ(lapis_eoi_policy_enable_cap(&p, LAPIS_CAP_X2APIC_API, c.x2apic_api_flags), 0);
        else
            lapis_eoi_policy_set_mode(&p, c.mode);
        CHECK_EQ(p.mode, c.mode);
        /* Directed EOI is honoured exactly when the choice is ENABLE on a VMM IOAPIC. */
        CHECK_EQ(lapis_eoi_policy_suppress_broadcast(&p, SVR_ON), c.mode == E && r->kind != KERN);
    }
    harness_current = "test_negotiation_table";
    for (unsigned a = 0; a < 4; a++)
        for (unsigned b = 0; b < 3; b++)
            for (unsigned f = 0; f < 2; f++)
                for (unsigned v = 0; v < 2; v++)
                    CHECK_EQ(seen[a][b][f][v], 1); /* each combination exactly once */
}

static void test_negotiation_user_ignores_kernel(void)
{
    /* The bug this guards: --irqchip user under auto must never fall back to quirk. */
    for (int req = AUTO; req <= RQ_Q; req++) {
        for (unsigned v = 0x11; v <= 0x20; v += 0x0F) {
            struct lapis_eoi_choice with, without;
            CHECK_EQ(lapis_eoi_negotiate((enum lapis_eoi_request)req, USER, true, v, &with), 0);
            CHECK_EQ(lapis_eoi_negotiate((enum lapis_eoi_request)req, USER, false, v, &without), 0);
            CHECK(memcmp(&with, &without, sizeof(with)) == 0);
            CHECK(!without.emulate_fix && !without.no_eoir_warning);
        }
    }
}

static void test_negotiation_bad_input(void)
{
    struct lapis_eoi_choice c;

    CHECK_EQ(lapis_eoi_negotiate((enum lapis_eoi_request)4, SPLT, true, 0x20, &c), -EINVAL);
    CHECK_EQ(c.x2apic_api_flags, 0);
    CHECK_EQ(lapis_eoi_negotiate((enum lapis_eoi_request) - 1, USER, true, 0x20, &c), -EINVAL);
    CHECK_EQ(lapis_eoi_negotiate(AUTO, (enum lapis_eoi_backend)3, true, 0x20, &c), -EINVAL);
    CHECK_EQ(c.mode, Q);
    /* Versions above 0x20 have EOIR too; anything below does not. */
    CHECK_EQ(lapis_eoi_negotiate(AUTO, USER, false, 0x21, &c), 0);
    CHECK_EQ(c.mode, E);
    CHECK_EQ(lapis_eoi_negotiate(AUTO, USER, false, 0x1F, &c), 0);
    CHECK_EQ(c.mode, D);
}

static void test_kernel_has_flags(void)
{
    /* Debian 6.1 / 6.12: 0x3 everywhere. Linux 7.0 / 6.18.17+: 0xF split, 0xB without. */
    CHECK(!lapis_eoi_kernel_has_flags(0x3, true));
    CHECK(!lapis_eoi_kernel_has_flags(0x3, false));
    CHECK(lapis_eoi_kernel_has_flags(0xF, true));
    CHECK(lapis_eoi_kernel_has_flags(0xF, false));
    CHECK(!lapis_eoi_kernel_has_flags(0xB, true)); /* ENABLE missing: not enough for split */
    CHECK(lapis_eoi_kernel_has_flags(0xB, false));
    CHECK(!lapis_eoi_kernel_has_flags(0x7, true));
    CHECK(!lapis_eoi_kernel_has_flags(0x7, false));
    CHECK(!lapis_eoi_kernel_has_flags(0, true));
    CHECK(!lapis_eoi_kernel_has_flags(-1, true)); /* the check failed */
    CHECK(!lapis_eoi_kernel_has_flags(-1, false));
}

int main(void)
{
    RUN_TEST(test_init_defaults);
    RUN_TEST(test_set_irqchip_rules);
    RUN_TEST(test_check_extension);
    RUN_TEST(test_x2apic_api_errors);
    RUN_TEST(test_x2apic_api_last_flag_wins);
    RUN_TEST(test_seed_api_errors);
    RUN_TEST(test_spec_table_rows);
    RUN_TEST(test_quirk_is_the_bug);
    RUN_TEST(test_forced_modes_and_no_irqchip);
    RUN_TEST(test_mode_names);
    RUN_TEST(test_negotiation_table);
    RUN_TEST(test_negotiation_user_ignores_kernel);
    RUN_TEST(test_negotiation_bad_input);
    RUN_TEST(test_kernel_has_flags);
    return harness_finish("eoi_policy");
}
