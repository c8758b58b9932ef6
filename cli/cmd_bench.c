/* placeholder: camstream bench */
#include "cli.h"

#include <stdio.h>

int cmd_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "camstream bench: not built yet\n");
    return 2;
}
