/* ringd-bench's SVG percentile chart (see ringd_bench_plot.h). */
#include "ringd_bench_plot.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "ringd_assert.h"
#include "ringd_bench_report.h"

#define W             960.0
#define H             540.0
#define LEFT          90.0
#define RIGHT         55.0
#define TOP           60.0
#define BOTTOM        70.0
#define X_DECADES_MAX 6 /* 99.9999% */

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                     "#9467bd", "#8c564b", "#e377c2", "#17becf"};

struct axes {
    double x_max;      /* decades of 1 / (1 - p) */
    double y_lo, y_hi; /* log10 of microseconds */
};

static void xml_text(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

static double px(const struct axes *a, double x)
{
    return LEFT + (W - LEFT - RIGHT) * x / a->x_max;
}

static double py(const struct axes *a, double log_us)
{
    return H - BOTTOM - (H - TOP - BOTTOM) * (log_us - a->y_lo) / (a->y_hi - a->y_lo);
}

static struct axes axes_for(const struct rbench_plot_series *series, uint32_t count)
{
    struct axes a = {.x_max = 2, .y_lo = 1e9, .y_hi = -1e9};
    for (uint32_t i = 0; i < count; i++) {
        const struct rbench_hist *h = series[i].hist;
        if (h->count == 0)
            continue;
        double decades = ceil(log10((double)h->count));
        a.x_max = decades > a.x_max ? decades : a.x_max;
        double lo = floor(log10(h->min_us > 0 ? (double)h->min_us : 1.0));
        double hi = ceil(log10((double)h->max_us + 1.0));
        a.y_lo = lo < a.y_lo ? lo : a.y_lo;
        a.y_hi = hi > a.y_hi ? hi : a.y_hi;
    }
    a.x_max = a.x_max > X_DECADES_MAX ? X_DECADES_MAX : a.x_max;
    if (a.y_lo > a.y_hi) { /* nothing recorded */
        a.y_lo = 0;
        a.y_hi = 3;
    }
    if (a.y_hi <= a.y_lo)
        a.y_hi = a.y_lo + 1;
    return a;
}

static void draw_grid(FILE *out, const struct axes *a)
{
    static const char *const pct[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"};
    for (int d = 0; d <= (int)a->x_max; d++) {
        double x = px(a, d);
        fprintf(out, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>\n", x, TOP, x,
                H - BOTTOM);
        fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='middle'>%s</text>\n", x, H - BOTTOM + 20,
                pct[d]);
    }
    for (int dec = (int)a->y_lo; dec <= (int)a->y_hi; dec++) {
        static const double steps[] = {1, 2, 5};
        for (int s = 0; s < 3; s++) {
            double v = log10(steps[s]) + dec;
            if (v > a->y_hi + 1e-9)
                break;
            char label[32];
            rbench_format_us(pow(10, v), label, sizeof(label));
            double y = py(a, v);
            fprintf(out, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s'/>\n", LEFT, y,
                    W - RIGHT, y, s == 0 ? "#ccc" : "#eee");
            fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='end'>%s</text>\n", LEFT - 8, y + 4,
                    label);
        }
    }
    fprintf(out, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='none' stroke='#888'/>\n",
            LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOTTOM);
    fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='middle'>percentile</text>\n",
            (LEFT + W - RIGHT) / 2, H - 25);
    fprintf(out,
            "<text x='20' y='%.1f' text-anchor='middle' transform='rotate(-90 20 %.1f)'>"
            "latency (log scale)</text>\n",
            (TOP + H - BOTTOM) / 2, (TOP + H - BOTTOM) / 2);
}

static void draw_curve(FILE *out, const struct axes *a, const struct rbench_hist *h,
                       const char *color)
{
    if (h->count == 0)
        return;
    /* No percentile past 1 - 1/count means anything for count samples. */
    double x_limit = log10((double)h->count);
    x_limit = x_limit > a->x_max ? a->x_max : x_limit;
    fprintf(out, "<polyline fill='none' stroke='%s' stroke-width='2' points='", color);
    for (uint32_t i = 0; i < RBENCH_PLOT_POINTS_MAX; i++) {
        double x = x_limit * i / (RBENCH_PLOT_POINTS_MAX - 1);
        double p = 100.0 * (1.0 - pow(10, -x));
        uint64_t us = rbench_hist_percentile(h, p);
        fprintf(out, "%.1f,%.1f ", px(a, x), py(a, log10(us > 0 ? (double)us : 1.0)));
    }
    fprintf(out, "'/>\n");
}

static void draw_legend(FILE *out, const struct rbench_plot_series *series, uint32_t count)
{
    /* A backdrop, so that curves under the legend do not cross its text. */
    fprintf(out,
            "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='white' "
            "fill-opacity='0.85' stroke='#ccc'/>\n",
            LEFT + 6, TOP + 6, 560.0, 20.0 * count + 8);
    for (uint32_t i = 0; i < count; i++) {
        const struct rbench_hist *h = series[i].hist;
        double y = TOP + 20 + 20.0 * i;
        const char *color = colors[i % (sizeof(colors) / sizeof(colors[0]))];
        fprintf(out,
                "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s' "
                "stroke-width='3'/>\n",
                LEFT + 12, y - 4, LEFT + 40, y - 4, color);
        char p50[32], p99[32], max[32];
        rbench_format_us((double)rbench_hist_percentile(h, 50), p50, sizeof(p50));
        rbench_format_us((double)rbench_hist_percentile(h, 99), p99, sizeof(p99));
        rbench_format_us((double)h->max_us, max, sizeof(max));
        fprintf(out, "<text x='%.1f' y='%.1f'>", LEFT + 48, y);
        xml_text(out, series[i].label);
        fprintf(out, ": p50 %s, p99 %s, max %s (%llu samples)</text>\n", p50, p99, max,
                (unsigned long long)h->count);
    }
}

void rbench_plot_svg(FILE *out, const char *title, const struct rbench_plot_series *series,
                     uint32_t count)
{
    ASSERT(count <= RBENCH_PLOT_SERIES_MAX);
    struct axes a = axes_for(series, count);
    fprintf(out,
            "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' "
            "viewBox='0 0 %.0f %.0f' font-family='sans-serif' font-size='13'>\n"
            "<rect width='100%%' height='100%%' fill='white'/>\n",
            W, H, W, H);
    fprintf(out, "<text x='%.1f' y='30' text-anchor='middle' font-size='17'>", W / 2);
    xml_text(out, title != NULL ? title : "latency by percentile");
    fprintf(out, "</text>\n");
    draw_grid(out, &a);
    for (uint32_t i = 0; i < count; i++)
        draw_curve(out, &a, series[i].hist, colors[i % (sizeof(colors) / sizeof(colors[0]))]);
    draw_legend(out, series, count);
    fprintf(out, "</svg>\n");
}

int rbench_plot_file(const char *path, const char *title, const struct rbench_plot_series *series,
                     uint32_t count)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    rbench_plot_svg(f, title, series, count);
    int err = ferror(f) ? -EIO : 0;
    if (fclose(f) != 0 && err == 0)
        err = -errno;
    return err;
}
