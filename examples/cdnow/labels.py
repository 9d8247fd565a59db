"""The churn label of the CDNOW example: a customer observed at T (who bought something before T)
churns if they buy nothing in the 180 days from T. Observation times: the first of each month from
April to December 1997 (the log ends 1998-06-30, so every label's 180 days are inside the data).
group = the customer, so the trainer's group split holds out whole customers.

    python labels.py OUT_DIR   (reads OUT_DIR/cdnow.csv, writes OUT_DIR/labels.csv)
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

HORIZON = timedelta(days=180)
OBSERVATIONS = [date(1997, m, 1) for m in range(4, 13)]
DATA_END = date(1998, 6, 30)


def main(out_dir: str) -> None:
    out = Path(out_dir)
    purchases: dict[str, list[date]] = defaultdict(list)
    with open(out / "cdnow.csv", newline="", encoding="ascii") as f:
        for row in csv.DictReader(f):
            purchases[row["customer_id"]].append(date.fromisoformat(row["date"]))
    rows = positives = 0
    with open(out / "labels.csv", "w", newline="", encoding="ascii") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "observation_time", "label", "group"])
        for t in OBSERVATIONS:
            assert t + HORIZON <= DATA_END + timedelta(days=1), "every label window must lie inside the data"
            for cid in sorted(purchases, key=int):
                days = purchases[cid]
                if min(days) >= t:
                    continue  # not a customer yet at T
                churned = not any(t <= d < t + HORIZON for d in days)
                w.writerow([cid, t.isoformat(), int(churned), cid])
                rows += 1
                positives += churned
    print(f"labels: {rows} rows ({positives} churned, {100 * positives / rows:.1f}%) at {len(OBSERVATIONS)} observation dates → {out / 'labels.csv'}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
