<%doc>The T2-4M detail page of an almacal stage: the pipeline's page frame (QA banner,
notifications, inputs, timing, CASA log) around almacal.report's body of each task run
(almacal/report/templates/<task>.mako, the bodies the standalone report shows).</%doc>
<%inherit file="t2-4m_details-base.mako"/>
<%block name="title">${almacal_stage | h}: ${almacal_description | h}</%block>

<style>
.almacal-stage table.headline td.num { font-weight: bold; }
.almacal-stage .scroll { max-height: 480px; overflow: auto; }
.almacal-stage tr.good td { background: #e8f5e9; }
.almacal-stage tr.warn td { background: #fff8e1; }
.almacal-stage tr.bad td { background: #fdecea; }
.almacal-stage figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
.almacal-stage table { margin-bottom: 1em; }
.almacal-stage th, .almacal-stage td { border: 1px solid #ccc; padding: 3px 8px; }
</style>

<div class="almacal-stage">
% for s in almacal_sections:
<h2>${s.title | h}</h2>
% if s.error is not None:
<div class="alert alert-danger"><strong>${almacal_stage | h} stopped:</strong> ${s.error | h}</div>
% if s.body_html:
<p>What it computed before it stopped is below; no input MS was changed and nothing was
registered for hif_applycal; the recipe went on.</p>
% else:
<p>Nothing was written for this run and no input MS was changed; the recipe went on.</p>
% endif
<h3>QA score</h3>
<table class="table table-bordered table-condensed">
<thead><tr><th>Score</th><th>Metric</th><th>Message</th></tr></thead>
<tbody>
% for q in s.scores:
<tr class="bad"><td>${'%.2f' % q.score | h}</td><td>${q.metric | h}</td><td>${q.longmsg | h}</td></tr>
% endfor
</tbody>
</table>
% endif
% for note in s.notes:
<p class="explain">${note | h}</p>
% endfor
% if s.files:
<p>Products: \
% for i, f in enumerate(s.files):
<a href="${f.href | h}">${f.label | h}</a>${', ' if i < len(s.files) - 1 else '' | h}\
% endfor
</p>
% endif
${s.body_html | n}
% endfor
</div>
