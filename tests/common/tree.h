/* tree.h - a binary tree of checked nodes built through the write barrier,
 * for GC tests that need something live to mark (and garbage to churn). */
#ifndef GCRT_TESTS_TREE_H
#define GCRT_TESTS_TREE_H
#include <stdint.h>

#include "gcrt.h"

struct node {
    struct node *left, *right;
    uint64_t check;
};

/* 2^(depth+1) - 1 nodes; node k's check is its heap-order index from v. */
static inline struct node *tree(int depth, uint64_t v) {
    struct node *n = gcrt_alloc(sizeof *n);
    n->check = v;
    if (depth > 0) {
        gcrt_store((void **)&n->left, tree(depth - 1, 2 * v));
        gcrt_store((void **)&n->right, tree(depth - 1, 2 * v + 1));
    }
    return n;
}

static inline uint64_t sum(const struct node *n) {
    return n ? n->check + sum(n->left) + sum(n->right) : 0;
}
#endif
