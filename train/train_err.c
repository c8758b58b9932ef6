#include "train_err.h"

#include <stdarg.h>
#include <stdio.h>

cs_status cs_train_fail(cs_error *err, cs_status st, const char *fmt, ...)
{
    if (!err) return st;
    err->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return st;
}
