/* camstream: the command-line front end of the core library. */
#include "cli.h"
#include "cs_config.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} subcommand;

static const subcommand subcommands[] = {
    {"run", cmd_run, "run an ONNX model on TensorProto inputs (ONNX backend-test layout)"},
    {"bench", cmd_bench, "measure latency and throughput of ONNX models"},
    {"bench-explain", cmd_bench_explain, "time explanation methods against a plain forward pass"},
    {"explain", cmd_explain, "explain a prediction on an image: heatmap, overlay, boxes, JSON"},
    {"visualize", cmd_visualize, "activation maximization, top patches, first-layer filters"},
    {"sub", cmd_sub, "print a publisher's messages as JSON lines (ZeroMQ SUB)"},
    {"keygen", cmd_keygen, "write a CURVE key pair for encrypted publish/control sockets"},
    {"synth", cmd_synth, "labelled synthetic datasets (shapes, stick figures) and videos"},
    {"fit", cmd_fit, "fit normalization/PCA/ZCA statistics on a dataset's training split"},
    {"train", cmd_train, "train a bundled CNN (classifier, box, pose, decoder) on a dataset"},
    {"eval", cmd_eval, "accuracy, box IoU, pointing game, deletion/insertion, PCK on a split"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: camstream <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(f, "  %-13s %s\n", subcommands[i].name, subcommands[i].help);
    fprintf(f, "\n'camstream <command> --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("camstream %s\n", CS_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (strcmp(argv[1], subcommands[i].name) == 0) return subcommands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "camstream: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
