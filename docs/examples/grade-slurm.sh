#!/bin/bash
# Grade a folder of submissions on a Slurm cluster: one array task per shard, then one merge job.
#   sbatch docs/examples/grade-slurm.sh SUBMISSIONS_DIR OUT_DIR
# Run from the course repository (built: make build), on a shared file system every node sees.
# The sandbox needs bubblewrap and root on the compute nodes; elsewhere add --trusted (docs/grading.md).
#SBATCH --job-name=ptm-grade
#SBATCH --array=1-8
#SBATCH --cpus-per-task=4
#SBATCH --mem=16G
#SBATCH --time=02:00:00
#SBATCH --output=%x-%A_%a.log
set -euo pipefail
SUBS="${1:?usage: sbatch grade-slurm.sh SUBMISSIONS_DIR OUT_DIR}"
OUT="${2:?usage: sbatch grade-slurm.sh SUBMISSIONS_DIR OUT_DIR}"
I="${SLURM_ARRAY_TASK_ID}"
N="${SLURM_ARRAY_TASK_COUNT}"
# A shard re-run (a requeued task) resumes: finished rows in its folder are kept.
.venv/bin/python -m autograder grade "$SUBS" --out "$OUT/shard-$I" --shard "$I/$N" --jobs "$SLURM_CPUS_PER_TASK"
# The last task to finish does not know it is last: the merge runs as its own job, after every task succeeded:
#   sbatch --dependency=afterok:<array job id> --wrap ".venv/bin/python -m autograder merge OUT_DIR/shard-* --out OUT_DIR/all"
