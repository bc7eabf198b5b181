/* Types shared by the scalar cost core (_scalar.c: the graph, eliminate,
 * undo, pricing) and the searches on it (_greedy.c: greedy baselines,
 * _anneal.c: annealing, _insertion.c: best insertion).  See _scalar.c for what the core does; plain C11. */
#ifndef CCELIM_SCALAR_H
#define CCELIM_SCALAR_H

#include <stdint.h>
#include <stdlib.h>

typedef long long i64;

/* One side of a vertex's adjacency: its neighbours, each stored as
 * (neighbour << 1) | value_less, in insertion order (removal moves the last
 * entry into the gap).  A set of more than SET_SMALL entries also has an
 * open-addressing index ((neighbour + 1) << 32 | position, 0: empty slot), so
 * that a lookup touches this vertex's memory only: eliminating v looks up
 * succ[p] for every p in P(v) (or pred[s] for every s in S(v)), a few small
 * tables that stay in cache, where one table of all the graph's edges meant a
 * random memory access per multiplication. */
enum { SET_SMALL = 16, SET_MIN_BITS = 6, SET_INLINE = 8 };

/* 64 bytes: a set of up to SET_INLINE entries shares its cache line; a bigger
 * one moves to a heap array of 16 or more. */
typedef struct {
    int *e; /* own[] while it fits */
    uint64_t *idx; /* NULL while the set is small */
    int n, cap, ibits;
    int own[SET_INLINE];
} Set;

typedef struct {
    int n;
    /* the graph as given, to reset to */
    int *ip, *ii;
    unsigned char *ivl;
    Set *pred, *succ;
    int *valued_pred, *valued_succ; /* counts of valued edges */
    unsigned char *gone;
    /* Vertices that may be eliminated (the intermediates).  An edge is kept in
     * pred[s] only where s may be eliminated or p may not, and in succ[p]
     * only where p may be eliminated or s may not (full: in both always): an
     * elimination enumerates only the sets of vertices that may be eliminated,
     * and never updates an output's huge set of predecessors. */
    unsigned char *elim;
    int full;
    int *log;
    i64 loglen, logcap;
    int logging;
    int *stamp, *tmp_p, *tmp_s;
    unsigned char *tmp_pvl, *tmp_svl;
    int gen;
} Graph;

enum { OP_ADD = 1, OP_FLAG = 2, OP_GONE = 4 };

double cc_now(void);
void *cc_xmalloc(size_t n);
Graph *cc_new(int n, const int *ip, const int *ii, const unsigned char *vl,
              const int *inter, int ninter);
void cc_free(Graph *g);
void cc_reset(Graph *g);
void cc_reset_to(Graph *g, int full);
int cc_next_gen(Graph *g);
i64 cc_cost(const Graph *g, int v);
i64 cc_fill(Graph *g, int v);
i64 cc_cost_after(const Graph *g, int w, int u);
int cc_adjacent(const Graph *g, int u, int v);
i64 cc_eliminate(Graph *g, int v);
void cc_undo(Graph *g, i64 mark);
int cc_order_cost(Graph *g, const int *order, int len, i64 *costs, double deadline,
                  i64 cap);
int cc_mode_costs(const Graph *g, const int *inter, int len, int reverse, i64 *costs);
/* _greedy.c; the annealer restarts from its greedy-randomised orders.  Score
 * terms of a greedy rule (graphs/baselines.py GREEDY_RULES codes): */
enum { T_MULTS = 0, T_MULTS_MINUS_REMOVED = 1, T_FILL = 2, T_POSITION = 3,
       T_NEG_POSITION = 4, T_NOISY_MULTS = 5, T_RANDOM = 6 };
int cc_greedy(Graph *g, const int *inter, int len, const int *terms, int nterms,
              double noise, uint64_t seed, int *order, double deadline, i64 cap);

#endif
