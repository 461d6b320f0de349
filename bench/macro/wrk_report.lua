-- Prints one machine-readable line at the end of a wrk run (wrk --latency stops at p99).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%.1f,"p99_us":%.1f,' ..
    '"p999_us":%.1f,"mean_us":%.1f,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
    '"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(99), latency:percentile(99.9), latency.mean, e.connect, e.read,
    e.write, e.status, e.timeout))
end
