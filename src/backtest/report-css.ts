// The report's stylesheet, inlined into report.html (no external assets: it opens offline).
export const REPORT_CSS = `
:root { --ink: #111827; --muted: #6b7280; --line: #e5e7eb; --bg: #f8fafc; --card: #ffffff; --accent: #0072B2; --win: #047857; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 24px 48px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header .sub { margin: 0; color: var(--muted); }
h2 { font-size: 19px; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 0 0 4px; }
section.summary { margin-top: 20px; background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--accent); border-radius: 8px; padding: 16px 20px; }
section.summary h2 { margin-top: 0; border: 0; padding: 0; }
section.summary ul { margin: 0; padding-left: 20px; }
section.summary li { margin: 4px 0; }
section.summary li.headline { font-size: 16px; font-weight: 600; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 12px; margin-top: 14px; }
.card { background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .name { font-weight: 600; display: flex; align-items: center; gap: 8px; }
.card .swatch { width: 22px; height: 0; border-top: 3px solid; display: inline-block; }
.card .big { font-size: 24px; font-weight: 700; margin: 4px 0 0; }
.card .big.win { color: var(--win); }
.card .small { color: var(--muted); font-size: 13px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px; }
figure.chart { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 14px 8px; }
figure.chart figcaption p { margin: 0 0 8px; color: var(--muted); font-size: 12.5px; }
svg.chart-svg { width: 100%; height: auto; display: block; font-family: inherit; }
svg .plot-bg { fill: #ffffff; }
svg .grid line { stroke: #eef0f3; stroke-width: 1; }
svg .axes line { stroke: #9ca3af; stroke-width: 1; }
svg .tick-labels text { fill: #4b5563; }
svg .axis-label { fill: #374151; }
svg .legend text { fill: #1f2937; }
table { border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 8px; font-size: 12.5px; width: 100%; }
caption { text-align: left; font-weight: 600; padding: 0 0 6px; }
th, td { padding: 5px 9px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
thead th { white-space: normal; vertical-align: bottom; }
table.data td { text-align: left; white-space: normal; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f3f4f6; font-weight: 600; }
tbody tr:last-child td { border-bottom: 0; }
tr.own th, tr.own td { background: #eff6ff; }
tr.best th, tr.best td { background: #ecfdf5; }
td.win { color: var(--win); font-weight: 700; }
td .note, th .note { color: var(--muted); font-weight: 400; font-size: 12px; }
.tables { display: grid; grid-template-columns: repeat(auto-fit, minmax(540px, 1fr)); gap: 16px; margin-top: 16px; align-items: start; }
.stack > div { margin-top: 16px; }
.tables th, .tables td { padding: 4px 7px; }
.table-wrap { overflow-x: auto; }
details { margin-top: 8px; }
summary { cursor: pointer; color: var(--accent); }
dl.glossary { display: grid; grid-template-columns: 220px 1fr; gap: 6px 16px; margin: 0; }
dl.glossary dt { font-weight: 600; }
dl.glossary dd { margin: 0; color: #374151; }
.legend-note { color: var(--muted); font-size: 12.5px; margin: 6px 0 0; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
code { font-size: 12px; background: #f3f4f6; padding: 1px 4px; border-radius: 4px; }
@media print { body { background: #fff; } .grid2, .tables { grid-template-columns: 1fr 1fr; } figure.chart, table { break-inside: avoid; } }
`;
