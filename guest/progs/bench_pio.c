/* SPDX-License-Identifier: MIT */
/* Benchmark workload: n (default 10000) byte writes to port 0x80, one exit each. */
#include "guest.h"

int main(void)
{
    unsigned long n = cmdline_ulong("n", 10000);
    diag("bench_pio: start, n=%lu", n);
    unsigned long i;
    for (i = 0; i < n; i++)
        outb(SYNC_PORT, 0);
    printf("bench_pio: %lu of %lu port writes done\n", i, n);
    ok(i == n, "bench_pio: n=%lu", n);
    return 0;
}
