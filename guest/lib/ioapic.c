/* SPDX-License-Identifier: MIT */
#include "ioapic.h"

#include "io.h"

uint32_t ioapic_read(unsigned reg)
{
    mmio_write32(IOAPIC_BASE + IOAPIC_IOREGSEL, reg);
    return mmio_read32(IOAPIC_BASE + IOAPIC_IOWIN);
}

void ioapic_write(unsigned reg, uint32_t v)
{
    mmio_write32(IOAPIC_BASE + IOAPIC_IOREGSEL, reg);
    mmio_write32(IOAPIC_BASE + IOAPIC_IOWIN, v);
}

unsigned ioapic_version(void)
{
    return ioapic_read(IOAPIC_REG_VER) & 0xFF;
}

unsigned ioapic_pins(void)
{
    return ((ioapic_read(IOAPIC_REG_VER) >> 16) & 0xFF) + 1;
}

uint64_t ioapic_redir_read(unsigned pin)
{
    uint64_t lo = ioapic_read(IOAPIC_REG_REDIR(pin));
    uint64_t hi = ioapic_read(IOAPIC_REG_REDIR(pin) + 1);
    return hi << 32 | lo;
}

void ioapic_redir_write(unsigned pin, uint64_t entry)
{
    ioapic_write(IOAPIC_REG_REDIR(pin) + 1, (uint32_t)(entry >> 32));
    ioapic_write(IOAPIC_REG_REDIR(pin), (uint32_t)entry);
}

void ioapic_route(unsigned pin, unsigned vector, uint32_t dest, uint64_t flags)
{
    ioapic_redir_write(pin, IOREDIR_VECTOR(vector) | IOREDIR_DEST(dest & 0xFF) | flags);
}

void ioapic_mask(unsigned pin, bool masked)
{
    uint32_t lo = ioapic_read(IOAPIC_REG_REDIR(pin));
    lo = masked ? lo | (uint32_t)IOREDIR_MASKED : lo & ~(uint32_t)IOREDIR_MASKED;
    ioapic_write(IOAPIC_REG_REDIR(pin), lo);
}

bool ioapic_remote_irr(unsigned pin)
{
    return ioapic_read(IOAPIC_REG_REDIR(pin)) & IOREDIR_REMOTE_IRR;
}

void ioapic_eoir(unsigned vector)
{
    mmio_write32(IOAPIC_BASE + IOAPIC_EOIR, vector & 0xFF);
}

void ioapic_fake_eoi(unsigned pin)
{
    uint32_t lo = ioapic_read(IOAPIC_REG_REDIR(pin));
    uint32_t masked = lo | (uint32_t)IOREDIR_MASKED;
    ioapic_write(IOAPIC_REG_REDIR(pin), masked);
    ioapic_write(IOAPIC_REG_REDIR(pin), masked & ~(uint32_t)IOREDIR_LEVEL);
    ioapic_write(IOAPIC_REG_REDIR(pin), masked);
    ioapic_write(IOAPIC_REG_REDIR(pin), lo);
}

void ioapic_eoi(unsigned pin, unsigned vector)
{
    static unsigned version;
    if (!version)
        version = ioapic_version();
    if (version >= 0x20)
        ioapic_eoir(vector);
    else
        ioapic_fake_eoi(pin);
}
