"""HTML reports of almacal runs: one self-contained ``<outfile>.html`` per run.

The body templates (``templates/<task>.mako``, all extending ``body.mako``) are
shared by the standalone report (``templates/page.mako``: CSS inline, figures as
data URIs, no network resource) and the ALMA pipeline weblog pages, which render
the same bodies inside their own page. Every body template gets this context
(``almacal.report.model.Body.context``):

- ``task``: the task name (``xml/<task>.xml``);
- ``title``: one line saying what was run on what;
- ``record``: the dict the task returned (the same as its JSON);
- ``headline``: ``Headline(label, value, note)``: the numbers to read first
  (rFCFs with errors, factors applied, sigma_spw, flux changes, coherence), as text;
- ``tables``: ``Table(caption, columns, rows)``, cells as text;
- ``figures``: ``Figure(caption, src)``; src is a ``data:`` URI in the standalone
  report, a URL relative to the page in the weblog;
- ``warnings``: ``Warning(message, reason)``: every warning and exclusion;
- ``qa``: ``QaScore(name, score, meaning)``, scores in [0, 1], 1 good;
- ``params``: the task's parameters as run;
- ``provenance``: software versions and the run's times.

A weblog renderer builds the context with ``build.body_for(task, record,
figures={key: url})`` and renders it with ``build.render_body``. A task's write
step calls ``build.write_html``; ``summary.summary_text`` is the record's repr at
the prompt, from the same headline.
"""
