## A standalone report page: everything inline, nothing fetched (opens from disk).
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>${title}</title>
<style>
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; font-size: 15px;
       line-height: 1.45; color: #1a1a1a; background: #fff; margin: 0; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 1.5em; border-bottom: 2px solid #2b5797; padding-bottom: 4px; }
h2 { font-size: 1.15em; margin-top: 1.6em; color: #2b5797; }
table { border-collapse: collapse; margin: 0.4em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef2f8; }
td.num { font-family: "DejaVu Sans Mono", monospace; white-space: nowrap; }
table.data td { font-family: "DejaVu Sans Mono", monospace; font-size: 0.9em; }
table.headline td.num { font-size: 1.1em; font-weight: bold; }
td.note, p.explain { color: #444; }
.scroll { max-height: 480px; overflow: auto; }
ul.warnings li { color: #8a4b00; margin: 0.2em 0; }
.reason { color: #555; }
tr.good td { background: #e8f5e9; } tr.warn td { background: #fff8e1; }
tr.bad td { background: #fdecea; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { max-width: 1000px; color: #333; }
code { font-size: 0.9em; }
</style>
</head>
<body>
<main>
${body_html | n}
</main>
</body>
</html>
