# Sourced by the database benchmarks: pg_cpu prints the clock ticks the
# scripts/db PostgreSQL cluster has used so far (the postmaster with its
# exited children, plus the live ones). Needs $repo.
pg_cpu() {
  local pm total pid
  pm=$(head -1 "${DANESCAN_STATE:-$repo/.state}/pg/data/postmaster.pid")
  total=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
  for pid in $(pgrep -P "$pm"); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
