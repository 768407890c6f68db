/* SPDX-License-Identifier: Apache-2.0 */
/* The torture test's allocator (alloc.c): counts live blocks and fails the
 * Nth allocation once armed. */
#ifndef SECRETREF_TORTURE_ALLOC_H
#define SECRETREF_TORTURE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* From now on the nth allocation (1-based) fails, once. */
void torture_arm(uint64_t n);
/* Stops failing; returns how many allocations were made since torture_arm
 * and sets *hit when the nth one was among them. */
uint64_t torture_disarm(int *hit);
size_t torture_live_blocks(void);
/* The number the next allocation will get. */
uint64_t torture_next_seq(void);
/* While recording, map[k] says who made the (k+1)th allocation since
 * torture_record: OpenSSL, SQLite or anyone else (our code, libc,
 * jansson). torture_record_stop returns how many were recorded. */
#define TORTURE_BY_OTHER 1
#define TORTURE_BY_OPENSSL 2
#define TORTURE_BY_SQLITE 3
void torture_record(unsigned char *map, size_t max);
size_t torture_record_stop(void);
/* Prints a backtrace to stderr when allocation number seq is made. */
void torture_trace_at(uint64_t seq);
/* The blocks numbered since and still live: fills up to max of their
 * numbers and sizes, returns how many there are. */
size_t torture_live_since(uint64_t since, uint64_t *seqs, size_t *sizes,
                          size_t max);

#endif
