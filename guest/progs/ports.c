/* SPDX-License-Identifier: MIT */
/*
 * Port access widths as QEMU 7.2 delivers them (tests/integration/ports.sh).
 *
 *   exit=b|w|l [port=0xf4] [value=N]  one outb/outw/outl of N at the port: the VMM
 *                                     must stop with (v << 1) | 1 of the bytes that
 *                                     reached isa-debug-exit (iobase 0xf4, iosize 4)
 *   exit=smp [value=N]                every CPU (fw_cfg's count) writes N + cpu with
 *                                     outl at once: one of those statuses
 *   fwcfg                             the CPU count with a 16-bit selector write and
 *                                     byte reads ("ports: cpus=N"), then fw_cfg at
 *                                     other widths, one "probe NAME = 0x..." line each
 *
 * A write that does not stop the VM prints "ports: still running" and powers
 * off (status 0), which no test expects.
 */
#include "guest.h"

#define GO_MS 2000

static volatile bool go;
static volatile unsigned ready;
static uint32_t smp_value;

static _Noreturn void still_running(const char *what)
{
    printf("ports: still running after %s\n", what);
    poweroff();
}

static void out_width(char width, uint16_t port, uint32_t v)
{
    if (width == 'b')
        outb(port, (uint8_t)v);
    else if (width == 'w')
        outw(port, (uint16_t)v);
    else
        outl(port, v);
}

static void ap_exit(unsigned cpu)
{
    __atomic_fetch_add(&ready, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
        cpu_relax();
    outl(DEBUG_EXIT_PORT, smp_value + cpu);
}

static _Noreturn void smp_exit(void)
{
    unsigned n = fwcfg_cpu_count(), started = 0;

    if (n > MAX_CPUS)
        n = MAX_CPUS;
    for (unsigned cpu = 1; cpu < n; cpu++)
        started += smp_start_ap(cpu, cpu, ap_exit, GO_MS);
    uint64_t end = deadline_ms(GO_MS);
    while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < started && !expired(end))
        cpu_relax();
    printf("ports: %u of %u CPUs write isa-debug-exit at once\n", started + 1, n);
    __atomic_store_n(&go, true, __ATOMIC_RELEASE);
    /* A moment for the APs, spinning on go, so that they race each other and the BSP. */
    for (unsigned i = 0; i < 2000; i++)
        cpu_relax();
    outl(DEBUG_EXIT_PORT, smp_value);
    still_running("the writes of every CPU");
}

/* Selects @key with the documented 16-bit write: the item's offset goes back to 0. */
static void select16(uint16_t key)
{
    outw(FW_CFG_PORT_SEL, key);
}

static void probe(const char *name, uint32_t v)
{
    printf("probe %s = 0x%x\n", name, v);
}

static void fwcfg_probes(void)
{
    uint32_t v;
    uint8_t b[4];

    /* The way firmware does it, the one every VMM must get right. */
    unsigned cpus = fwcfg_cpu_count();
    printf("ports: cpus=%u\n", cpus);
    ok(cpus >= 1, "fw_cfg gives the CPU count (%u) with outw to 0x510 and inb from 0x511", cpus);

    select16(FW_CFG_SIGNATURE);
    v = 0;
    for (unsigned i = 0; i < 4; i++)
        v |= (uint32_t)inb(FW_CFG_PORT_DATA) << (8 * i);
    probe("sel16-data8x4", v);
    ok(v == 0x554d4551, "the signature reads \"QEMU\" (0x%x)", v);

    /* The selector port read byte-wise is a data read (QEMU's combined region). */
    select16(FW_CFG_SIGNATURE);
    v = inb(FW_CFG_PORT_SEL);
    probe("inb-sel", v | (uint32_t)inb(FW_CFG_PORT_DATA) << 8);

    /* A byte written to either port is a data write, which QEMU ignores. */
    select16(FW_CFG_SIGNATURE);
    v = inb(FW_CFG_PORT_DATA);
    outb(FW_CFG_PORT_SEL, FW_CFG_NB_CPUS);
    probe("outb-sel", v | (uint32_t)inb(FW_CFG_PORT_DATA) << 8);
    select16(FW_CFG_SIGNATURE);
    v = inb(FW_CFG_PORT_DATA);
    outw(FW_CFG_PORT_DATA, FW_CFG_NB_CPUS);
    probe("outw-data", v | (uint32_t)inb(FW_CFG_PORT_DATA) << 8);

    /* 32 bits at the selector go to the fw_cfg region whole, which refuses them. */
    select16(FW_CFG_SIGNATURE);
    v = inb(FW_CFG_PORT_DATA);
    outl(FW_CFG_PORT_SEL, 0xABCD0000u | FW_CFG_NB_CPUS);
    v |= (uint32_t)inb(FW_CFG_PORT_DATA) << 8;
    probe("outl-sel", v);
    ok(v == 0x4551, "outl to the selector is refused whole: the signature reads on (0x%x)", v);

    /* The write-channel bit (0x4000) is not part of the key. */
    select16(0x4000 | FW_CFG_NB_CPUS);
    v = inb(FW_CFG_PORT_DATA);
    probe("sel16-write-channel", v | (uint32_t)inb(FW_CFG_PORT_DATA) << 8);

    /* Wider reads: a data byte and an empty port, or a refused 16-bit read (0). */
    select16(FW_CFG_SIGNATURE);
    probe("inw-data", inw(FW_CFG_PORT_DATA));
    probe("inb-after", inb(FW_CFG_PORT_DATA));
    select16(FW_CFG_SIGNATURE);
    probe("inw-sel", inw(FW_CFG_PORT_SEL));
    probe("inb-after", inb(FW_CFG_PORT_DATA));
    select16(FW_CFG_SIGNATURE);
    probe("inl-sel", inl(FW_CFG_PORT_SEL));
    probe("inb-after", inb(FW_CFG_PORT_DATA));
    select16(FW_CFG_SIGNATURE);
    probe("inl-50f", inl(FW_CFG_PORT_SEL - 1));
    probe("inb-after", inb(FW_CFG_PORT_DATA));

    /* A string read: one exit with a count, every byte in order. */
    uint8_t *dst = b;
    uint64_t count = sizeof(b);
    select16(FW_CFG_SIGNATURE);
    __asm__ volatile("rep insb"
                     : "+D"(dst), "+c"(count)
                     : "d"((uint16_t)FW_CFG_PORT_DATA)
                     : "memory");
    v = b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    probe("rep-insb", v);
    finish();
}

int main(void)
{
    char mode[8];

    if (cmdline_get("exit", mode, sizeof(mode))) {
        uint16_t port = (uint16_t)cmdline_ulong("port", DEBUG_EXIT_PORT);
        uint32_t v = (uint32_t)cmdline_ulong("value", 0x21);
        if (!strcmp(mode, "smp")) {
            smp_value = v;
            smp_exit();
        }
        if (strcmp(mode, "b") && strcmp(mode, "w") && strcmp(mode, "l"))
            bail("exit=%s: use b, w, l or smp", mode);
        printf("ports: out%s 0x%x to port 0x%x\n", mode, v, port);
        out_width(mode[0], port, v);
        still_running("the write");
    }
    if (cmdline_get("fwcfg", mode, sizeof(mode)))
        fwcfg_probes();
    bail("give exit=b|w|l|smp or fwcfg on the command line");
}
