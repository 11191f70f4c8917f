/* SPDX-License-Identifier: MIT */
/* The VM-wide EOI policy: both capability front doors and the two decisions (spec eoi.md §3-§4). */
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
    return harness_finish("eoi_policy");
}
