/* `camstream eval` reports: JSON (every figure, for scripts and the quality guard),
 * Markdown (the tables of docs/QUALITY.md) and a short text summary. */
#include "eval_report.h"

#include "cli.h"

#include <math.h>

static double ratio(double a, long n)
{
    return n > 0 ? a / (double)n : NAN;
}

static void json_num(FILE *f, const char *key, double v, int comma)
{
    fprintf(f, "\"%s\": ", key);
    cli_json_float(f, v);
    if (comma) fputs(", ", f);
}

static void json_row(FILE *f, const ev_row *w)
{
    fprintf(f, "{\"name\": ");
    cli_json_string(f, w->name);
    fprintf(f, ", \"images\": %ld, ", w->n);
    if (w->has_box) {
        json_num(f, "mean_iou", ratio(w->iou_sum, w->n), 1);
        json_num(f, "loc_acc", ratio(w->loc, w->n), 1);
        json_num(f, "top1_loc", ratio(w->loc_cls, w->n), 1);
    }
    if (w->has_point) {
        json_num(f, "pointing", ratio(w->point, w->point_n), 1);
        json_num(f, "pointing_tol", ratio(w->point_tol, w->point_n), 1);
    }
    if (w->n_curves) {
        json_num(f, "deletion_auc", ratio(w->del_sum, w->n_curves), 1);
        json_num(f, "insertion_auc", ratio(w->ins_sum, w->n_curves), 1);
        fprintf(f, "\"curve_images\": %ld, ", w->n_curves);
    }
    json_num(f, "ms_per_image", ratio(w->ms_sum, w->n), 0);
    fputc('}', f);
}

int ev_write_json(FILE *f, const ev_results *r)
{
    fprintf(f, "{\n  \"model\": ");
    cli_json_string(f, r->model);
    fprintf(f, ",\n  \"data\": ");
    cli_json_string(f, r->data);
    fprintf(f, ",\n  \"split\": ");
    cli_json_string(f, r->split);
    fprintf(f, ",\n  \"images\": %d,\n  \"input\": [%d, %d],\n  \"target\": ", r->n, r->H, r->W);
    cli_json_string(f, r->target);
    fprintf(f, ",\n  \"settings\": {");
    json_num(f, "box_threshold", r->threshold, 1);
    json_num(f, "pointing_tolerance_px", r->tol, 1);
    fprintf(f, "\"curve_step_px\": %d, ", r->step);
    json_num(f, "pck_alpha", r->alpha, 0);
    fprintf(f, "},\n  \"baseline_train_images\": %d,\n", r->n_train);
    if (r->has_cls) {
        fprintf(f, "  \"classification\": {\"classes\": %d, ", r->K);
        json_num(f, "accuracy", ratio(r->correct, r->n), 1);
        fprintf(f, "\"majority_class\": %d, ", r->majority);
        json_num(f, "majority_accuracy", ratio(r->majority_correct, r->n), 0);
        fprintf(f, "},\n");
    }
    fprintf(f, "  \"centre_box\": [");
    cli_json_float(f, r->mean_w);
    fprintf(f, ", ");
    cli_json_float(f, r->mean_h);
    fprintf(f, "],\n  \"localization\": [");
    for (int i = 0; i < r->n_rows; i++) {
        fprintf(f, "%s\n    ", i ? "," : "");
        json_row(f, &r->rows[i]);
    }
    fprintf(f, "\n  ]");
    if (r->J > 0) {
        long ok = 0, bok = 0, n = 0;
        for (int j = 0; j < r->J; j++)
            ok += r->pck_ok[j], bok += r->pck_base_ok[j], n += r->pck_n[j];
        fprintf(f, ",\n  \"pose\": {\"normalization\": \"gt box larger side\", ");
        json_num(f, "pck", ratio(ok, n), 1);
        json_num(f, "pck_mean_pose", ratio(bok, n), 1);
        json_num(f, "pck_torso", ratio(r->torso_ok, r->torso_n), 1);
        json_num(f, "pck_torso_mean_pose", ratio(r->torso_base_ok, r->torso_n), 1);
        fprintf(f, "\"joints\": [");
        for (int j = 0; j < r->J; j++) {
            fprintf(f, "%s\n    {\"name\": ", j ? "," : "");
            cli_json_string(f, r->joints ? r->joints[j] : NULL);
            fprintf(f, ", \"labelled\": %ld, ", r->pck_n[j]);
            json_num(f, "pck", ratio(r->pck_ok[j], r->pck_n[j]), 1);
            json_num(f, "pck_mean_pose", ratio(r->pck_base_ok[j], r->pck_n[j]), 0);
            fputc('}', f);
        }
        fprintf(f, "\n  ]}");
    }
    fprintf(f, "\n}\n");
    return ferror(f) ? -1 : 0;
}

static void md_pct(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.1f |", 100.0 * v);
    else
        fputs(" – |", f);
}

static void md_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.3f |", v);
    else
        fputs(" – |", f);
}

static void write_loc_table(FILE *f, const ev_results *r)
{
    fprintf(f,
            "| | mean IoU | loc. acc. (IoU ≥ 0.5) | top-1 loc. | pointing | pointing ±%.1f px "
            "| deletion AUC ↓ | insertion AUC ↑ | ms/image |\n",
            r->tol);
    fprintf(f, "|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < r->n_rows; i++) {
        const ev_row *w = &r->rows[i];
        fprintf(f, "| %s |", w->name);
        md_num(f, w->has_box ? ratio(w->iou_sum, w->n) : NAN);
        md_pct(f, w->has_box ? ratio(w->loc, w->n) : NAN);
        md_pct(f, w->has_box && r->has_cls ? ratio(w->loc_cls, w->n) : NAN);
        md_pct(f, w->has_point ? ratio(w->point, w->point_n) : NAN);
        md_pct(f, w->has_point ? ratio(w->point_tol, w->point_n) : NAN);
        md_num(f, w->n_curves ? ratio(w->del_sum, w->n_curves) : NAN);
        md_num(f, w->n_curves ? ratio(w->ins_sum, w->n_curves) : NAN);
        if (w->ms_sum > 0)
            fprintf(f, " %.2f |\n", ratio(w->ms_sum, w->n));
        else
            fputs(" |\n", f);
    }
}

int ev_write_markdown(FILE *f, const ev_results *r)
{
    fprintf(f, "Model `%s`, data `%s` split `%s`: %d images, input %dx%d.\n\n", r->model, r->data,
            r->split, r->n, r->W, r->H);
    if (r->has_cls)
        fprintf(f,
                "Classification: top-1 accuracy **%.1f %%** (%d classes; majority class of the "
                "training split: %.1f %%).\n\n",
                100.0 * ratio(r->correct, r->n), r->K, 100.0 * ratio(r->majority_correct, r->n));
    if (r->n_rows > 0) write_loc_table(f, r);
    if (r->J > 0) {
        long ok = 0, bok = 0, n = 0;
        for (int j = 0; j < r->J; j++)
            ok += r->pck_ok[j], bok += r->pck_base_ok[j], n += r->pck_n[j];
        fprintf(f,
                "\nPCK@%.2g (distance ≤ %.2g × the larger side of the ground-truth box; labelled "
                "joints only):\n\n| joint | model | mean pose |\n|---|---|---|\n",
                r->alpha, r->alpha);
        for (int j = 0; j < r->J; j++) {
            fprintf(f, "| %s |", r->joints ? r->joints[j] : "?");
            md_pct(f, ratio(r->pck_ok[j], r->pck_n[j]));
            md_pct(f, ratio(r->pck_base_ok[j], r->pck_n[j]));
            fputc('\n', f);
        }
        fprintf(f, "| **mean** |");
        md_pct(f, ratio(ok, n));
        md_pct(f, ratio(bok, n));
        fprintf(f, "\n| torso-normalized (DeepPose) |");
        md_pct(f, ratio(r->torso_ok, r->torso_n));
        md_pct(f, ratio(r->torso_base_ok, r->torso_n));
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

void ev_print_text(FILE *f, const ev_results *r)
{
    fprintf(f, "%s on %s/%s: %d images\n", r->model, r->data, r->split, r->n);
    if (r->has_cls)
        fprintf(f, "accuracy %.1f%% (majority class %.1f%%)\n", 100.0 * ratio(r->correct, r->n),
                100.0 * ratio(r->majority_correct, r->n));
    for (int i = 0; i < r->n_rows; i++) {
        const ev_row *w = &r->rows[i];
        fprintf(f, "%-24s", w->name);
        if (w->has_box)
            fprintf(f, "  IoU %.3f  loc %.1f%%", ratio(w->iou_sum, w->n),
                    100.0 * ratio(w->loc, w->n));
        if (w->has_point)
            fprintf(f, "  point %.1f%% (±tol %.1f%%)", 100.0 * ratio(w->point, w->point_n),
                    100.0 * ratio(w->point_tol, w->point_n));
        if (w->n_curves)
            fprintf(f, "  del %.3f  ins %.3f", ratio(w->del_sum, w->n_curves),
                    ratio(w->ins_sum, w->n_curves));
        fputc('\n', f);
    }
    if (r->J > 0) {
        long ok = 0, bok = 0, n = 0;
        for (int j = 0; j < r->J; j++)
            ok += r->pck_ok[j], bok += r->pck_base_ok[j], n += r->pck_n[j];
        fprintf(
            f, "PCK@%.2g %.1f%% (mean pose %.1f%%); torso-normalized %.1f%% (mean pose %.1f%%)\n",
            r->alpha, 100.0 * ratio(ok, n), 100.0 * ratio(bok, n),
            100.0 * ratio(r->torso_ok, r->torso_n), 100.0 * ratio(r->torso_base_ok, r->torso_n));
    }
}
