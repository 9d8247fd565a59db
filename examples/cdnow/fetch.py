"""Fetch the CDNOW purchase log from PyPI (inside the wheel lifetimes==0.11.3, MIT licence) and write
it as CSV. The conversion only changes the layout (whitespace columns → CSV with a header, dates
YYYYMMDD → YYYY-MM-DD, a purchase_id = the original line number) and the order: the original is
sorted by customer, and a replay needs history in event-time order (anything more than the allowed
lateness behind the watermark is routed as late), so rows are sorted by date (stable). Every value
is kept as it is.

    python fetch.py OUT_DIR     → OUT_DIR/cdnow.csv (69,659 purchases by 23,570 customers, 1997–1998)
"""

from __future__ import annotations

import glob
import subprocess
import sys
import zipfile
from pathlib import Path

WHEEL = "lifetimes==0.11.3"
MEMBER = "lifetimes/datasets/CDNOW_master.txt"


def main(out_dir: str) -> None:
    out = Path(out_dir)
    dl = out / "download"
    dl.mkdir(parents=True, exist_ok=True)
    csv = out / "cdnow.csv"
    if csv.is_file():
        print(f"fetch: {csv} exists", file=sys.stderr)
        return
    wheels = glob.glob(str(dl / "*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "--only-binary", ":all:", "-d", str(dl), "-q",
             "--disable-pip-version-check"],
            check=True,
        )
        wheels = glob.glob(str(dl / "*.whl"))
    text = zipfile.ZipFile(wheels[0]).read(MEMBER).decode("ascii")
    lines = text.splitlines()
    header = lines[0].split()
    if header != ["customer_id", "date", "number_of_cds", "dollar_value"]:
        raise SystemExit(f"fetch: unexpected header {header}")
    parsed = []
    for i, line in enumerate(lines[1:], start=1):
        cid, date, cds, dollars = line.split()
        parsed.append((date, i, cid, cds, dollars))
    parsed.sort(key=lambda r: (r[0], r[1]))
    rows = ["purchase_id,customer_id,date,cds,dollars"]
    for date, i, cid, cds, dollars in parsed:
        rows.append(f"{i},{cid},{date[:4]}-{date[4:6]}-{date[6:]},{cds},{dollars}")
    tmp = csv.with_suffix(".partial")
    tmp.write_text("\n".join(rows) + "\n", encoding="ascii")
    tmp.replace(csv)
    print(f"fetch: {len(rows) - 1} purchases → {csv}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
