/* SPDX-License-Identifier: MIT */
/* MSI address/data encoding (Intel SDM vol. 3, 11.11.1 and 11.11.2). */
#include "msi.h"

#include <errno.h>

#define MSI_ADDR_DEST_SHIFT   12
#define MSI_ADDR_DEST_MASK    0xFFu
#define MSI_ADDR_DEST_MODE    (1u << 2)
#define MSI_ADDR_REDIR_HINT   (1u << 3)
#define MSI_DATA_VECTOR_MASK  0xFFu
#define MSI_DATA_DM_SHIFT     8
#define MSI_DATA_DM_MASK      7u
#define MSI_DATA_LEVEL_ASSERT (1u << 14)
#define MSI_DATA_TRIGGER      (1u << 15)
#define MSI_DM_RESERVED       3u

void lapis_msi_encode(const struct lapis_msi *msg, uint64_t *address, uint32_t *data)
{
    uint32_t a = LAPIS_MSI_ADDR_BASE;
    uint32_t d = msg->vector;

    a |= (msg->dest & MSI_ADDR_DEST_MASK) << MSI_ADDR_DEST_SHIFT;
    if (msg->dest_logical)
        a |= MSI_ADDR_DEST_MODE;
    if (msg->redir_hint)
        a |= MSI_ADDR_REDIR_HINT;
    d |= (uint32_t)(msg->delivery_mode & MSI_DATA_DM_MASK) << MSI_DATA_DM_SHIFT;
    if (msg->level_assert)
        d |= MSI_DATA_LEVEL_ASSERT;
    if (msg->level_triggered)
        d |= MSI_DATA_TRIGGER;
    *address = a;
    *data = d;
}

int lapis_msi_decode(uint64_t address, uint32_t data, struct lapis_msi *msg)
{
    /* The whole 64-bit address must fall in the 1 MiB interrupt window. */
    if ((address & ~(uint64_t)~LAPIS_MSI_ADDR_MASK) != LAPIS_MSI_ADDR_BASE)
        return -EINVAL;
    unsigned dm = (data >> MSI_DATA_DM_SHIFT) & MSI_DATA_DM_MASK;
    if (dm == MSI_DM_RESERVED)
        return -EINVAL;
    msg->dest = (uint32_t)(address >> MSI_ADDR_DEST_SHIFT) & MSI_ADDR_DEST_MASK;
    msg->dest_logical = (address & MSI_ADDR_DEST_MODE) != 0;
    msg->redir_hint = (address & MSI_ADDR_REDIR_HINT) != 0;
    msg->vector = (uint8_t)(data & MSI_DATA_VECTOR_MASK);
    msg->delivery_mode = (uint8_t)dm;
    msg->level_assert = (data & MSI_DATA_LEVEL_ASSERT) != 0;
    msg->level_triggered = (data & MSI_DATA_TRIGGER) != 0;
    return 0;
}
