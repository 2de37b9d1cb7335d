#!/usr/bin/env bash
# doc-section.sh FILE NAME: replaces the part of FILE between "<!-- NAME -->" and
# "<!-- /NAME -->" with standard input (appending the marked part if FILE lacks it), so
# `make bench` and `make bench-cluster` each rewrite their own section of docs/benchmarks.md.
set -euo pipefail
file=$1 name=$2
new=$(mktemp)
{ echo "<!-- $name -->"; cat; echo "<!-- /$name -->"; } > "$new"
touch "$file"
if grep -q "^<!-- $name -->$" "$file"; then
  awk -v name="$name" -v new="$new" '
    $0 == "<!-- " name " -->" { while ((getline l < new) > 0) print l; skip = 1; next }
    $0 == "<!-- /" name " -->" { skip = 0; next }
    !skip' "$file" > "$file.tmp"
  mv "$file.tmp" "$file"
else
  { [ -s "$file" ] && echo; cat "$new"; } >> "$file"
fi
rm -f "$new"
