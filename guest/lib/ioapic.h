/* SPDX-License-Identifier: MIT */
/* IOAPIC at 0xFEC00000: IOREGSEL/IOWIN, redirection entries, EOIR (version 0x20). */
#ifndef GUEST_IOAPIC_H
#define GUEST_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define IOAPIC_BASE           0xFEC00000u
#define IOAPIC_IOREGSEL       0x00
#define IOAPIC_IOWIN          0x10
#define IOAPIC_EOIR           0x40
#define IOAPIC_REG_ID         0x00
#define IOAPIC_REG_VER        0x01
#define IOAPIC_REG_REDIR(pin) (0x10 + 2 * (pin))

/* Redirection entry bits */
#define IOREDIR_VECTOR(v)  ((uint64_t)(v)&0xFF)
#define IOREDIR_LOGICAL    (1ull << 11)
#define IOREDIR_DELIVS     (1ull << 12)
#define IOREDIR_ACTIVE_LOW (1ull << 13)
#define IOREDIR_REMOTE_IRR (1ull << 14)
#define IOREDIR_LEVEL      (1ull << 15)
#define IOREDIR_MASKED     (1ull << 16)
#define IOREDIR_DEST(id)   ((uint64_t)(id) << 56)

uint32_t ioapic_read(unsigned reg);
void ioapic_write(unsigned reg, uint32_t v);
unsigned ioapic_version(void); /* 0x11, 0x20, ... */
unsigned ioapic_pins(void);    /* max redirection entry + 1 */
uint64_t ioapic_redir_read(unsigned pin);
void ioapic_redir_write(unsigned pin, uint64_t entry); /* high dword first */
/* Fixed delivery, physical destination @dest; @flags: IOREDIR_LEVEL, _ACTIVE_LOW, _MASKED. */
void ioapic_route(unsigned pin, unsigned vector, uint32_t dest, uint64_t flags);
void ioapic_mask(unsigned pin, bool masked);
bool ioapic_remote_irr(unsigned pin);
/* Write @vector to the EOI register (only version >= 0x20 has one). */
void ioapic_eoir(unsigned vector);
/* Xen's EOI for IOAPICs without EOIR: mask, edge, level again, unmask. */
void ioapic_fake_eoi(unsigned pin);
/* Directed EOI done by the OS: EOIR when the version has it, else the fake EOI. */
void ioapic_eoi(unsigned pin, unsigned vector);

#endif
