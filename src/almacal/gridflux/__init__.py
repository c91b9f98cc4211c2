"""gridflux_check's pure core: is the grid calibrator flux still what the catalog says?

- :mod:`.catalog`: measurement records, ALMA bands, the offline catalog file
- :mod:`.extrapolate`: the observatory rule (seed 000 §1) and the Monte Carlo
- :mod:`.fluxcsv`: the pipeline's flux.csv, both layouts
- :mod:`.compare`: changes (Table 4), rescale factor, QA score
- :mod:`.delays`: catalog ingestion delay statistics (App. D, Table 6)
- :mod:`.service`: the catalog web service client (urllib, fallbacks, cache)
- :mod:`.sources`, :mod:`.targets`, :mod:`.check`, :mod:`.params`: the task's steps
- :mod:`.results`, :mod:`.plot`: record, ECSV, JSON, PNG, updated flux.csv

Nothing here imports casatools; MS metadata comes from :mod:`almacal.io.msmeta`.
"""
