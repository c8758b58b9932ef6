/* Every op enum value has a complete table entry with a unique ONNX name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "graph.h"

static void table_complete(void **state)
{
    (void)state;
    for (int i = 0; i < CS_OP_COUNT; i++) {
        const cs_op_def *d = cs_op_defs[i];
        assert_non_null(d);
        assert_non_null(d->onnx_name);
        assert_non_null(d->init);
        assert_non_null(d->shape);
        assert_non_null(d->forward);
        assert_int_equal(cs_op_lookup(d->onnx_name), i);
        for (int j = 0; j < i; j++) assert_string_not_equal(cs_op_defs[j]->onnx_name, d->onnx_name);
    }
    assert_int_equal(cs_op_lookup("NoSuchOp"), CS_OP_COUNT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(table_complete)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
