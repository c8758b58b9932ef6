/* Error helper of train/ (core's cs_fail is internal to core). */
#ifndef CS_TRAIN_ERR_H
#define CS_TRAIN_ERR_H

#include "camstream/core.h"

/* Fills err (when not NULL) with status st and the formatted message; returns st. */
cs_status cs_train_fail(cs_error *err, cs_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
