# Statistics the benchmark scripts share; sourced.
# spread [printf format]: the median (min–max) of the numbers on standard input (%.1f).
spread() {
  sort -g | awk -v f="${1:-%.1f}" '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
    printf f " (" f "–" f ")", m, a[1], a[NR] }'
}
