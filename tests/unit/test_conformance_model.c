/* SPDX-License-Identifier: MIT */
/*
 * The conformance suite's model target and differential engine, without KVM:
 * every scenario passes on lapis's models in every mode it declares; a model
 * broken on purpose (glue that ignores SVR bit 12) is caught both by the
 * scenarios' own checks and by the differential check against a sound model;
 * the record parser and the declared-difference rules do what they say.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "../harness.h"
#include "model/model.h"
#include "runner/runner.h"

/* Runs @name on the model; fills @r. Returns the run's status. */
static int model_run(const char *name, enum conf_mode mode, unsigned ioapic, bool xapic,
                     unsigned cpus, unsigned mutations, struct conf_record *r)
{
    struct conf_params p;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int status;

    memset(&p, 0, sizeof(p));
    snprintf(p.scenario, sizeof(p.scenario), "%s", name);
    p.target = CONF_T_MODEL;
    p.mode = mode;
    p.ioapic = ioapic;
    p.xapic = xapic;
    p.cpus = cpus;
    status = conf_model_run(&p, mutations, f);
    fclose(f);
    memset(r, 0, sizeof(*r));
    conf_record_parse(r, text);
    r->status = status;
    free(text);
    return status;
}

static bool verdict_ok(const struct conf_record *r)
{
    struct conf_kvs reasons = {0};
    bool ok = conf_record_verdict(r, &reasons);
    conf_kvs_free(&reasons);
    return ok;
}

/* The same, printing why not (for runs that should pass). */
static bool verdict_ok_loud(const struct conf_record *r)
{
    struct conf_kvs reasons = {0};
    bool ok = conf_record_verdict(r, &reasons);
    for (size_t i = 0; !ok && i < reasons.n; i++)
        printf("    %s: %s\n", reasons.v[i].key, reasons.v[i].value);
    conf_kvs_free(&reasons);
    return ok;
}

static void test_every_scenario_passes_on_the_model(void)
{
    static const enum conf_mode modes[] = {CONF_MODE_QUIRK, CONF_MODE_ENABLE, CONF_MODE_DISABLE};
    static const struct {
        unsigned bit, ioapic;
        bool xapic;
    } variants[] = {
        {CONF_V_20X2, 0x20, false},
        {CONF_V_11X2, 0x11, false},
        {CONF_V_20XA, 0x20, true},
        {CONF_V_11XA, 0x11, true},
    };
    unsigned runs = 0;

    CHECK(conf_scenario_count() >= 40);
    for (unsigned i = 0; conf_scenario_at(i); i++) {
        const struct conf_scenario *s = conf_scenario_at(i);
        for (unsigned v = 0; v < 4; v++) {
            if (!(s->variants & variants[v].bit))
                continue;
            for (unsigned m = 0; m < 3; m++) {
                struct conf_record r;
                if ((s->flags & CONF_F_DIRECTED) && modes[m] != CONF_MODE_ENABLE)
                    continue;
                model_run(s->name, modes[m], variants[v].ioapic, variants[v].xapic,
                          (s->flags & CONF_F_SMP) ? 2 : 1, 0, &r);
                if (!verdict_ok_loud(&r))
                    printf("  %s (%s, 0x%x%s) failed on the model\n", s->name,
                           conf_mode_name(modes[m]), variants[v].ioapic,
                           variants[v].xapic ? ", xAPIC" : "");
                CHECK(verdict_ok(&r));
                CHECK(r.began && r.ended);
                CHECK(conf_kvs_get(&r.obs, "irq.count") != NULL);
                conf_record_free(&r);
                runs++;
            }
        }
    }
    CHECK(runs > 200);
}

static void test_unknown_scenario_is_an_error(void)
{
    struct conf_record r;
    CHECK_EQ(model_run("no_such_scenario", CONF_MODE_ENABLE, 0x20, false, 1, 0, &r), 3);
    CHECK(r.began);
    CHECK(r.problem && strstr(r.problem, "unknown scenario"));
    CHECK(!verdict_ok(&r));
    conf_record_free(&r);
}

/* The mutation: glue that forwards suppressed EOIs (KVM's quirk, under "enable"). */
static void test_mutation_caught_by_the_scenario(void)
{
    struct conf_record sound, broken;

    model_run("deoi_svr12_level", CONF_MODE_ENABLE, 0x20, false, 1, 0, &sound);
    model_run("deoi_svr12_level", CONF_MODE_ENABLE, 0x20, false, 1, CONF_MUT_IGNORE_SVR12, &broken);
    CHECK(verdict_ok(&sound));
    CHECK_STR(conf_kvs_get(&sound.obs, "count"), "1");
    CHECK(!verdict_ok(&broken));
    CHECK_STR(conf_kvs_get(&broken.obs, "count"), "2"); /* delivered twice, as quirk */
    CHECK(conf_kvs_get(&broken.failures, "count") != NULL);
    CHECK(strstr(broken.output, "mutated=0") == NULL);
    CHECK(strstr(sound.output, "mutated=0") != NULL);
    conf_record_free(&sound);
    conf_record_free(&broken);
}

static void test_mutation_caught_by_the_differential_check(void)
{
    struct conf_record sound, broken;
    struct conf_kvs diffs = {0}, declared = {0};

    /* The broken model as the target under test, the sound one as its reference. */
    model_run("deoi_rirr_after_lapic_eoi", CONF_MODE_ENABLE, 0x11, true, 1, 0, &sound);
    model_run("deoi_rirr_after_lapic_eoi", CONF_MODE_ENABLE, 0x11, true, 1, CONF_MUT_IGNORE_SVR12,
              &broken);
    CHECK(conf_diff(&broken, "split/enable", &sound, "model/enable", true,
                    conf_scenario_find("deoi_rirr_after_lapic_eoi")->known, &diffs, &declared) > 0);
    CHECK(conf_kvs_get(&diffs, "rirr.after_lapic_eoi") != NULL);
    CHECK(conf_kvs_get(&diffs, "stat.eoi_exit") != NULL);
    CHECK_EQ(declared.n, 0);
    conf_kvs_free(&diffs);
    conf_kvs_free(&declared);

    /* A sound model agrees with itself, key for key. */
    CHECK_EQ(
        conf_diff(&sound, "split/enable", &sound, "model/enable", true, NULL, &diffs, &declared),
        0);
    conf_kvs_free(&diffs);
    conf_kvs_free(&declared);
    conf_record_free(&sound);
    conf_record_free(&broken);
}

static void test_mutation_leaves_other_modes_alone(void)
{
    struct conf_record r;
    /* Without suppression there is nothing for the mutation to change. */
    model_run("deoi_svr12_level", CONF_MODE_QUIRK, 0x20, false, 1, CONF_MUT_IGNORE_SVR12, &r);
    CHECK(verdict_ok(&r));
    conf_record_free(&r);
    CHECK_EQ(conf_model_mutation_parse("ignore-svr12"), CONF_MUT_IGNORE_SVR12);
    CHECK_EQ(conf_model_mutation_parse("nonsense"), 0);
}

static const char sample[] = "noise before\n"
                             "conf begin demo\n"
                             "conf obs a=1\n"
                             "conf obs trace=c0:40,41 c1:40\n"
                             "conf check ok a: fine\n"
                             "conf check FAIL b: 2, expected 3\n"
                             "conf stat eoi_exit exact\n"
                             "conf stat throttled nonzero\n"
                             "conf expect-stat eoi_exit=2\n"
                             "conf end checks=2 failed=1\n"
                             "lapis: warning: not a problem\n"
                             "lapis: stats: mode=enable irqchip=split eoi.exit=5 eoi.ignored=3 "
                             "eoi.eoir=1 irqs=4 throttled=7 status=0\n";

static void test_record_parse(void)
{
    struct conf_record r = {0};
    struct conf_kvs k = {0}, reasons = {0};
    char buf[32];

    conf_record_parse(&r, sample);
    CHECK(r.began && r.ended && r.has_stats);
    CHECK_STR(conf_kvs_get(&r.obs, "a"), "1");
    CHECK_STR(conf_kvs_get(&r.obs, "trace"), "c0:40,41 c1:40");
    CHECK_STR(conf_kvs_get(&r.failures, "b"), "2, expected 3");
    CHECK(r.problem == NULL);
    CHECK(r.vmm_msg == NULL);
    /* EOI exits the VMM dropped itself never reached the IOAPIC. */
    CHECK_STR(conf_record_stat(&r, "eoi_exit", buf, sizeof(buf)), "2");
    CHECK_STR(conf_record_stat(&r, "eoir", buf, sizeof(buf)), "1");
    CHECK_STR(conf_record_stat(&r, "mode", buf, sizeof(buf)), "enable");
    CHECK(conf_record_stat(&r, "nonexistent", buf, sizeof(buf)) == NULL);
    conf_record_comparable(&r, true, &k);
    CHECK_STR(conf_kvs_get(&k, "stat.eoi_exit"), "2");
    CHECK_STR(conf_kvs_get(&k, "stat.throttled"), "nonzero");
    CHECK(conf_kvs_get(&k, "stat.irqs") == NULL); /* not published */
    /* The failed check fails the run; the expected counter holds. */
    CHECK(!conf_record_verdict(&r, &reasons));
    CHECK(conf_kvs_get(&reasons, "b") != NULL);
    CHECK(conf_kvs_get(&reasons, "stat.eoi_exit") == NULL);
    conf_kvs_free(&k);
    conf_kvs_free(&reasons);
    conf_record_free(&r);
}

static void test_record_verdicts(void)
{
    struct conf_record r = {0};
    struct conf_kvs reasons = {0};

    conf_record_parse(&r, "conf begin x\nconf obs a=1\n");
    CHECK(!conf_record_verdict(&r, &reasons));
    CHECK(conf_kvs_get(&reasons, "end") != NULL);
    conf_record_free(&r);
    conf_kvs_free(&reasons);

    conf_record_parse(&r, "conf begin x\nconf end checks=0 failed=0\n"
                          "conf expect-stat eoir=1\nlapis: stats: eoi.exit=0 eoi.eoir=0\n");
    CHECK(!conf_record_verdict(&r, &reasons));
    CHECK(strstr(conf_kvs_get(&reasons, "stat.eoir"), "the spec says 1") != NULL);
    conf_record_free(&r);
    conf_kvs_free(&reasons);

    conf_record_parse(&r, "conf begin x\nBail out! vector 13\n");
    r.timed_out = true;
    CHECK(!conf_record_verdict(&r, &reasons));
    CHECK(conf_kvs_get(&reasons, "run") != NULL);
    CHECK_STR(conf_kvs_get(&reasons, "output"), "Bail out! vector 13");
    conf_record_free(&r);
    conf_kvs_free(&reasons);
}

static void test_declared_differences(void)
{
    static const struct conf_known known[] = {
        {"kernel", "badsel.*", "why"},
        {"split/quirk", "count", "why"},
        {NULL, NULL, NULL},
    };
    struct conf_record a = {0}, b = {0};
    struct conf_kvs diffs = {0}, declared = {0};

    CHECK(conf_known_reason(known, "kernel", "badsel.0x03") != NULL);
    CHECK(conf_known_reason(known, "kernel", "badsel") == NULL);
    CHECK(conf_known_reason(known, "split/quirk", "count") != NULL);
    CHECK(conf_known_reason(known, "split/enable", "count") == NULL);
    CHECK(conf_known_reason(known, "user/quirk", "count") == NULL);
    CHECK(conf_known_reason(NULL, "kernel", "x") == NULL);

    conf_record_parse(&a, "conf obs badsel.0x03=0xffffffff\nconf obs count=1\nconf obs only_a=1\n");
    conf_record_parse(&b, "conf obs badsel.0x03=0x0\nconf obs count=1\nconf obs only_b=1\n");
    /* Declared for kernel: only the keys present on one side differ. */
    CHECK_EQ(conf_diff(&a, "kernel", &b, "split/quirk", false, known, &diffs, &declared), 2);
    CHECK(conf_kvs_get(&diffs, "only_a") != NULL);
    CHECK(conf_kvs_get(&diffs, "only_b") != NULL);
    CHECK_STR(conf_kvs_get(&declared, "badsel.0x03"), "0xffffffff | 0x0");
    conf_kvs_free(&diffs);
    conf_kvs_free(&declared);
    /* Not declared for another column: the same difference counts. */
    CHECK_EQ(conf_diff(&a, "split/auto", &b, "model/auto", false, known, &diffs, &declared), 3);
    CHECK(conf_kvs_get(&diffs, "badsel.0x03") != NULL);
    conf_kvs_free(&diffs);
    conf_kvs_free(&declared);
    conf_record_free(&a);
    conf_record_free(&b);
}

static void test_table_is_sound(void)
{
    for (unsigned i = 0; conf_scenario_at(i); i++) {
        const struct conf_scenario *s = conf_scenario_at(i);
        CHECK(s->name && s->what && s->run);
        CHECK(s->variants != 0 && s->modes != 0);
        CHECK(conf_scenario_find(s->name) == s); /* names are unique */
        CHECK(strlen(s->name) < CONF_NAME_MAX);
    }
    CHECK(conf_scenario_find("nonexistent") == NULL);
}

int main(void)
{
    RUN_TEST(test_table_is_sound);
    RUN_TEST(test_every_scenario_passes_on_the_model);
    RUN_TEST(test_unknown_scenario_is_an_error);
    RUN_TEST(test_mutation_caught_by_the_scenario);
    RUN_TEST(test_mutation_caught_by_the_differential_check);
    RUN_TEST(test_mutation_leaves_other_modes_alone);
    RUN_TEST(test_record_parse);
    RUN_TEST(test_record_verdicts);
    RUN_TEST(test_declared_differences);
    return harness_finish("conformance_model");
}
