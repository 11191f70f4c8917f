/* SPDX-License-Identifier: MIT */
/* The scenario groups; scenarios/table.c strings them into one table. */
#ifndef LAPIS_CONF_SCENARIOS_TABLE_H
#define LAPIS_CONF_SCENARIOS_TABLE_H

#include "conf.h"

/* Each ends with an entry whose name is NULL. */
extern const struct conf_scenario conf_scenarios_registers[];
extern const struct conf_scenario conf_scenarios_edge[];
extern const struct conf_scenario conf_scenarios_level[];
extern const struct conf_scenario conf_scenarios_deoi[];
extern const struct conf_scenario conf_scenarios_smp[];

#endif
