#!/usr/bin/env bash
# The last step of `make tables` (local runs and `make tables-gather` after a Slurm array): turns
# the run summaries of a tables folder into Markdown tables.
# Usage: scripts/gather_tables.sh TABLES_DIR [MARKDOWN_FILE]
#   Writes TABLES_DIR/TABLES.md (scripts/results_table.py on TABLES_DIR, then
#   scripts/ablation_table.py on TABLES_DIR/ablation) and, given MARKDOWN_FILE, puts the same two
#   tables into its blocks "tables" and "ablation" (scripts/replace_block.py). Runs still
#   unfinished (a run state left, or nothing yet) are counted on stderr, not waited for.
set -euo pipefail
dir=$1 md=${2:-}
here=$(dirname "$0")
python3 "$here/results_table.py" "$dir" > "$dir/TABLES.md"
python3 "$here/ablation_table.py" "$dir/ablation" >> "$dir/TABLES.md"
if [ -n "$md" ]; then
  python3 "$here/results_table.py" "$dir" | python3 "$here/replace_block.py" "$md" tables
  python3 "$here/ablation_table.py" "$dir/ablation" | python3 "$here/replace_block.py" "$md" ablation
fi
states=$(find "$dir" -maxdepth 2 -name '*.state' | wc -l)
[ "$states" -eq 0 ] || echo "gather_tables: $states runs in $dir are interrupted (a .state file" \
                            "left): rerun the runner, or resubmit, to finish them" >&2
