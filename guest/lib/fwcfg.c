/* SPDX-License-Identifier: MIT */
#include "fwcfg.h"

#include "io.h"

void fwcfg_read(uint16_t key, void *buf, size_t len)
{
    uint8_t *p = buf;
    outw(FW_CFG_PORT_SEL, key);
    for (size_t i = 0; i < len; i++)
        p[i] = inb(FW_CFG_PORT_DATA);
}

bool fwcfg_present(void)
{
    char sig[4];
    fwcfg_read(FW_CFG_SIGNATURE, sig, sizeof(sig));
    return sig[0] == 'Q' && sig[1] == 'E' && sig[2] == 'M' && sig[3] == 'U';
}

unsigned fwcfg_cpu_count(void)
{
    if (!fwcfg_present())
        return 0;
    uint8_t n[2];
    fwcfg_read(FW_CFG_NB_CPUS, n, sizeof(n));
    return n[0] | (unsigned)n[1] << 8;
}
