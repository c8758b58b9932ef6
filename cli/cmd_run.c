/* placeholder: camstream run */
#include "cli.h"

#include <stdio.h>

int cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "camstream run: not built yet\n");
    return 2;
}
