/* SPDX-License-Identifier: MIT */
/* QEMU's fw_cfg, port interface: 16-bit selector at 0x510, data bytes at 0x511. */
#ifndef GUEST_FWCFG_H
#define GUEST_FWCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FW_CFG_PORT_SEL  0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_NB_CPUS   0x05

bool fwcfg_present(void); /* the signature reads "QEMU" */
void fwcfg_read(uint16_t key, void *buf, size_t len);
/* Number of CPUs (key 0x05), or 0 without fw_cfg. */
unsigned fwcfg_cpu_count(void);

#endif
