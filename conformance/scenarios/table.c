/* SPDX-License-Identifier: MIT */
#include "table.h"

static const struct conf_scenario *const groups[] = {
    conf_scenarios_registers, conf_scenarios_edge, conf_scenarios_level,
    conf_scenarios_deoi,      conf_scenarios_smp,
};

const struct conf_scenario *conf_scenario_at(unsigned i)
{
    for (unsigned g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        for (const struct conf_scenario *s = groups[g]; s->name; s++) {
            if (i == 0)
                return s;
            i--;
        }
    }
    return (const struct conf_scenario *)0;
}
