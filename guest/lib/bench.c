/* SPDX-License-Identifier: MIT */
#include "bench.h"

#include "io.h"
#include "ports.h"

unsigned long bench_irq_ops(unsigned line, bool pulse, unsigned long n,
                            const volatile unsigned long *deliveries, unsigned wait_ms)
{
    unsigned long i;

    irq_enable();
    for (i = 0; i < n; i++) {
        irq_line(line, true);
        if (pulse)
            irq_line(line, false);
        uint64_t end = deadline_ms(wait_ms);
        while (*deliveries <= i && !expired(end))
            cpu_relax();
        if (*deliveries <= i)
            break;
    }
    irq_disable();
    return i;
}
