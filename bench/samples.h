/* SPDX-License-Identifier: Apache-2.0 */
/* Samples of one measurement and their median, shared by the benchmarks. */
#ifndef SECRETREF_BENCH_SAMPLES_H
#define SECRETREF_BENCH_SAMPLES_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct samples {
    double *v;
    size_t n, cap;
};

static inline int samples_add(struct samples *s, double value)
{
    double *grown;
    size_t cap;

    if (s->n == s->cap) {
        cap = s->cap ? 2 * s->cap : 64;
        if (!(grown = realloc(s->v, cap * sizeof(*grown))))
            return 0;
        s->v = grown;
        s->cap = cap;
    }
    s->v[s->n++] = value;
    return 1;
}

static inline void samples_free(struct samples *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static inline int samples_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Sorts s, then gives its median: an occasional slow operation (a WAL
 * checkpoint, a busy neighbour) moves it less than it would a mean. */
static inline double samples_median(struct samples *s)
{
    if (!s->n)
        return 0.0;
    qsort(s->v, s->n, sizeof(*s->v), samples_cmp);
    return s->n % 2 ? s->v[s->n / 2]
                    : (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2.0;
}

/* The CPU time of this thread: other programs on a busy machine do not
 * count against any side measured in it. */
static inline double cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
