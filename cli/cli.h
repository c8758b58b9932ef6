/* camstream command-line tool: one file per subcommand. */
#ifndef CS_CLI_H
#define CS_CLI_H

int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
