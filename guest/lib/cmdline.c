/* SPDX-License-Identifier: MIT */
#include "cmdline.h"

static char line[1024];

void cmdline_set(const char *s)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < sizeof(line); i++)
        line[i] = s[i];
    line[i] = '\0';
}

const char *cmdline(void)
{
    return line;
}

bool cmdline_get(const char *key, char *buf, size_t len)
{
    bool found = false;
    const char *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *word = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        const char *k = key, *w = word;
        while (*k && w < p && *w == *k)
            k++, w++;
        if (*k || (w < p && *w != '='))
            continue;
        found = true;
        if (w < p)
            w++; /* '=' */
        size_t n = 0;
        while (w < p && n + 1 < len)
            buf[n++] = *w++;
        if (len)
            buf[n] = '\0';
    }
    return found;
}

unsigned long cmdline_ulong(const char *key, unsigned long def)
{
    char buf[32];
    if (!cmdline_get(key, buf, sizeof(buf)) || !buf[0])
        return def;
    unsigned base = 10;
    const char *p = buf;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    unsigned long v = 0;
    if (!*p)
        return def;
    for (; *p; p++) {
        unsigned d;
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            return def;
        v = v * base + d;
    }
    return v;
}
