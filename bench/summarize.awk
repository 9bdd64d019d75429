# The median, min and max of a bench's runs.  Input: one "SECONDS PEAK_KB"
# line per run.  Variables: n (items per run), what ("nudge run"), unit
# ("events/s").  Used by bench/run.sh, deliveries.sh and profiles.sh.
function sort(a, k,    i, j, t) {
    for (i = 2; i <= k; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
}
function median(a, k) { return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
{ k++; rate[k] = n / (($1 > 0) ? $1 : 0.01); rss[k] = $2 / 1024 }
END {
    sort(rate, k); sort(rss, k)
    printf "bench: %s: median %d %s over %d runs, peak RSS median %.1f MB\n", what, median(rate, k), unit, k, median(rss, k)
    printf "bench: %s min %d max %d; peak RSS min %.1f MB max %.1f MB\n", unit, rate[1], rate[k], rss[1], rss[k]
}
