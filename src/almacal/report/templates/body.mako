## The body of one task run's report. The standalone page (page.mako) and the
## pipeline weblog render it on the same context: task, title, record, headline,
## tables, figures, warnings, qa, params, provenance (almacal/report/__init__.py).
<section class="almacal-report" id="${task}">
<h1>${title}</h1>
<%block name="intro"/>

<h2>Headline numbers</h2>
<table class="headline">
% for h in headline:
<tr><th>${h.label}</th><td class="num">${h.value}</td><td class="note">${h.note}</td></tr>
% endfor
</table>

<h2>Warnings and exclusions (${len(warnings)})</h2>
% if warnings:
<ul class="warnings">
% for w in warnings:
<li><span class="message">${w.message}</span>\
% if w.reason:
 <span class="reason">(${w.reason})</span>\
% endif
</li>
% endfor
</ul>
% else:
<p class="none">None.</p>
% endif

% if qa:
<h2>QA scores</h2>
<p class="explain">In [0, 1], 1 good (the ALMA pipeline's convention).</p>
<table class="qa">
<tr><th>score</th><th>value</th><th>meaning</th></tr>
% for q in qa:
<tr class="${'good' if q.score >= 0.9 else ('warn' if q.score >= 0.66 else 'bad')}">\
<td>${q.name}</td><td class="num">${'%.2f' % q.score}</td><td>${q.meaning}</td></tr>
% endfor
</table>
% endif

% for t in tables:
<h2>${t.caption}</h2>
<div class="scroll"><table class="data">
<tr>
% for c in t.columns:
<th>${c}</th>
% endfor
</tr>
% for row in t.rows:
<tr>
% for cell in row:
<td>${cell}</td>
% endfor
</tr>
% endfor
</table></div>
% endfor

% if figures:
<h2>Figures</h2>
% for i, f in enumerate(figures):
<figure>
<img src="${f.src}" alt="Figure ${i + 1}"/>
<figcaption><b>Figure ${i + 1}.</b> ${f.caption}</figcaption>
</figure>
% endfor
% endif

<h2>Parameters</h2>
<table class="params">
% for name, value in params.items():
<tr><th>${name}</th><td><code>${repr(value)}</code></td></tr>
% endfor
</table>

<h2>Software and times</h2>
<table class="provenance">
% for name, value in provenance.items():
<tr><th>${name}</th><td>${value}</td></tr>
% endfor
</table>
</section>
