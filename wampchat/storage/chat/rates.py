"""
Rate limits every node of a cluster counts against: one ``rate_events`` row per counted event.
"""
RATE_SWEEP_MS = 3_600_000   # rows of keys that went quiet are deleted this long after their window


def take_rate(tx, kind, keys, count, window_ms, now):
    """Count one ``kind`` event for each of ``keys`` unless one of them already has ``count`` inside the last
    ``window_ms``: then nothing is counted and the answer is the milliseconds until it may act again.
    None when the event was counted. Every node counts in the same table, so the limit is the cluster's."""
    since = now - window_ms
    for key in keys:
        tx.execute("DELETE FROM rate_events WHERE kind = ? AND key = ? AND ts <= ?", (kind, key, since))
        rows = tx.query("SELECT ts FROM rate_events WHERE kind = ? AND key = ? ORDER BY ts DESC LIMIT ?",
                        (kind, key, count))
        if len(rows) >= count:
            return max(1, rows[-1]["ts"] + window_ms - now)
    tx.insert_rows("INSERT INTO rate_events (kind, key, ts)", [(kind, key, now) for key in keys])
    tx.execute("DELETE FROM rate_events WHERE ts <= ?", (now - window_ms - RATE_SWEEP_MS,))
    return None
