/* `camstream eval`: the figures it accumulates and their JSON / Markdown / text reports. */
#ifndef CS_CLI_EVAL_REPORT_H
#define CS_CLI_EVAL_REPORT_H

#include <stdio.h>

/* One row of localization figures (an explanation method, the box head or a baseline). */
typedef struct ev_row {
    char name[48];
    long n;                         /* images */
    double iou_sum;                 /* box IoU with the ground truth */
    long loc, loc_cls;              /* IoU >= 0.5; and predicted class correct */
    long point, point_tol, point_n; /* pointing game: strict, with tolerance; images */
    double del_sum, ins_sum;        /* deletion / insertion AUC */
    long n_curves;
    double ms_sum; /* explanation time */
    int has_box, has_point;
} ev_row;

#define EV_MAX_ROWS 24
#define EV_MAX_JOINTS 64

typedef struct ev_results {
    const char *model, *data, *split, *target;
    int n, K, H, W, step, curves;
    double threshold, tol, alpha;
    int has_cls;
    long correct, majority_correct;
    int majority;
    double mean_w, mean_h; /* train split's mean GT box, fractions of the image */
    int n_train;
    ev_row rows[EV_MAX_ROWS];
    int n_rows;
    /* pose */
    int J;
    char **joints;
    long pck_ok[EV_MAX_JOINTS], pck_base_ok[EV_MAX_JOINTS], pck_n[EV_MAX_JOINTS];
    long torso_ok, torso_base_ok, torso_n;
    int torso_a, torso_b;
} ev_results;

int ev_write_json(FILE *f, const ev_results *r);
int ev_write_markdown(FILE *f, const ev_results *r);
void ev_print_text(FILE *f, const ev_results *r);

#endif
