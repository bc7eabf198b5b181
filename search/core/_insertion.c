/* Best insertion on the scalar cost core (_scalar.c): one vertex moved to its
 * cheapest place in an order.  Plain C11. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_scalar.h"

/* The cheapest place for u in order[0:len] (which holds u): writes the order
 * with u moved there to out, its per-step costs to out_steps, and returns its
 * multiplications, in one pass over R = the order without u.  steps: the
 * per-step costs of order.  The graph is reset first and left eliminated.
 *
 * Put u at position j of R and step k of R sees R[:k], plus u if k >= j, so
 *   cost(j) = sum_{k<j} c0[k] + cu[j] + sum_{k>=j} c1[k],
 * with c0[k] the cost of R[k] after R[:k], cu[j] that of u after R[:j], and
 * c1[k] that of R[k] after R[:k] and u; the graph after a set does not depend
 * on the order within it.  Eliminating u changes only its neighbours, so
 * c1[k] = c0[k] unless R[k] is adjacent to u after R[:k]; then u is eliminated
 * on the graph, R[k] priced, and u taken back.  Once u has no neighbour that
 * may be eliminated, nothing changes u or is changed by it any more: the pass
 * stops, cu stays, and c0 = c1 = the step's cost in order (whose step sees
 * the same set, u in it or not).  Ties go to the earliest place.  Returns -1
 * if the deadline (cc_now() seconds; <= 0: none) passed. */
i64 cc_best_insertion(Graph *g, const int *order, const i64 *steps, int len, int u,
                      int *out, i64 *out_steps, double deadline) {
    int m = 0, at_u = 0;
    int *rest = cc_xmalloc(sizeof(int) * (len ? len : 1));
    for (int k = 0; k < len; k++) {
        if (order[k] == u) at_u = k;
        else rest[m++] = order[k];
    }
    i64 *c0 = cc_xmalloc(sizeof(i64) * (m + 1)), *c1 = cc_xmalloc(sizeof(i64) * (m + 1));
    i64 *cu = cc_xmalloc(sizeof(i64) * (m + 1));
    cc_reset(g);
    int saved = g->logging;
    g->logging = 0;
    i64 result = 0;
    int k = 0;
    for (; k < m; k++) {
        if (deadline > 0 && (k & 255) == 255 && cc_now() > deadline) {
            result = -1;
            break;
        }
        int w = rest[k];
        cu[k] = cc_cost(g, u);
        c1[k] = cc_cost(g, w);
        int event = cc_adjacent(g, u, w);
        if (event) {
            i64 mark = g->loglen;
            g->logging = 1;
            cc_eliminate(g, u);
            c1[k] = cc_cost(g, w);
            cc_undo(g, mark);
            g->logging = 0;
        }
        c0[k] = cc_eliminate(g, w);
        if (event) { /* u's neighbours changed: any left to eliminate? */
            int left = 0;
            const Set *sets[2] = {&g->pred[u], &g->succ[u]};
            for (int t = 0; t < 2 && !left; t++)
                for (int e = 0; e < sets[t]->n && !left; e++)
                    left = g->elim[sets[t]->e[e] >> 1];
            if (!left) {
                k++;
                break;
            }
        }
    }
    if (result == 0) {
        for (int j = k; j < m; j++) { /* u apart from the rest */
            cu[j] = cc_cost(g, u);
            c0[j] = c1[j] = steps[j < at_u ? j : j + 1];
        }
        cu[m] = cc_cost(g, u);
        i64 after = 0; /* sum of c1[j:] */
        for (int j = 0; j < m; j++) after += c1[j];
        i64 before = 0, best = -1;
        int at = 0;
        for (int j = 0; j <= m; j++) {
            i64 total = before + cu[j] + after;
            if (best < 0 || total < best) {
                best = total;
                at = j;
            }
            if (j < m) {
                before += c0[j];
                after -= c1[j];
            }
        }
        memcpy(out, rest, sizeof(int) * at);
        out[at] = u;
        memcpy(out + at + 1, rest + at, sizeof(int) * (m - at));
        memcpy(out_steps, c0, sizeof(i64) * at);
        out_steps[at] = cu[at];
        memcpy(out_steps + at + 1, c1 + at, sizeof(i64) * (m - at));
        result = best;
    }
    g->logging = saved;
    free(rest); free(c0); free(c1); free(cu);
    return result;
}
