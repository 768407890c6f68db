/* SPDX-License-Identifier: Apache-2.0 */
/* Runs a unit test's worker threads: all of them or none, since the
 * workers wait at a barrier for every one to start. */
#ifndef SECRETREF_TEST_THREADS_H
#define SECRETREF_TEST_THREADS_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define TEST_THREADS_MAX 64

/* Starts count threads, thread i on fn(workers + i * stride), and joins
 * them all. A thread that cannot be created ends the program: the others
 * would wait at their barrier for ever. */
static inline void test_threads_run(int count, void *(*fn)(void *),
                                    void *workers, size_t stride)
{
    pthread_t threads[TEST_THREADS_MAX];
    int i;

    if (count > TEST_THREADS_MAX) {
        fprintf(stderr, "test_threads_run: %d threads (at most %d)\n",
                count, TEST_THREADS_MAX);
        exit(1);
    }
    for (i = 0; i < count; i++)
        if (pthread_create(&threads[i], NULL, fn,
                           (char *)workers + (size_t)i * stride) != 0) {
            fprintf(stderr, "only %d of %d threads started\n", i, count);
            exit(1);
        }
    for (i = 0; i < count; i++)
        pthread_join(threads[i], NULL);
}

#endif
