/* SPDX-License-Identifier: MIT */
/* The loop the interrupt benchmarks share. */
#ifndef GUEST_BENCH_H
#define GUEST_BENCH_H

#include <stdbool.h>

/*
 * With interrupts on, @n times: raise pc-testdev line @line (and lower it at
 * once when @pulse), then wait up to @wait_ms for the handler to count it in
 * *@deliveries. Stops at the first that does not come; returns how many did.
 * Interrupts are off again on return.
 */
unsigned long bench_irq_ops(unsigned line, bool pulse, unsigned long n,
                            const volatile unsigned long *deliveries, unsigned wait_ms);

#endif
