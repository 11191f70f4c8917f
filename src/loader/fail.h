/* SPDX-License-Identifier: MIT */
/* The loaders' one way to fail: an errno and, where asked, a message for the user. */
#ifndef LAPIS_LOADER_FAIL_H
#define LAPIS_LOADER_FAIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Writes the message to @err (when given) and returns @rc. */
__attribute__((format(printf, 4, 5))) static inline int fail(char *err, size_t errlen, int rc,
                                                             const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

#endif
