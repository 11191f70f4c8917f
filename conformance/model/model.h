/* SPDX-License-Identifier: MIT */
/*
 * The model target: a scenario run against lapis's LAPIC, IOAPIC and EOI
 * policy models (src/devices), wired as a VM would wire them, with no KVM.
 * Time is virtual: waits and busy loops advance a clock that drives the
 * IOAPIC's storm-throttle timer and the LAPIC timers.
 */
#ifndef LAPIS_CONF_MODEL_H
#define LAPIS_CONF_MODEL_H

#include <stdio.h>

#include "conf.h"

/*
 * Deliberate breakage, for proving that the suite catches a wrong model.
 * IGNORE_SVR12: the glue forwards every level EOI to the IOAPIC, even one the
 * LAPIC suppressed because SVR bit 12 is set (what KVM's quirk does).
 */
#define CONF_MUT_IGNORE_SVR12 (1u << 0)

/* "ignore-svr12" -> its bit; 0 for an unknown name. */
unsigned conf_model_mutation_parse(const char *name);

/*
 * Runs scenario @p->scenario (@p->target is ignored: the model is the target)
 * and writes its lines to @out, then a statistics line in the format of
 * `lapis run` ("lapis: stats: mode=... eoi.exit=N ... status=S"). Returns the
 * status: 0 when the scenario ran to its end, 3 when it aborted (as a guest
 * that crashed through isa-debug-exit), 2 for bad parameters.
 */
int conf_model_run(const struct conf_params *p, unsigned mutations, FILE *out);

#endif
