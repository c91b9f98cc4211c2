"""gridflux_check's pure core: is the grid calibrator flux still what the catalog says?

- :mod:`.catalog`: measurement records, the offline catalog file
- :mod:`.extrapolate`: the observatory rule (seed 000 §1), its two estimators and the
  Monte Carlo
- :mod:`.aufit`: analysisUtils getALMAFlux's estimator (log-log pair fit, flux session,
  its pair-fit Monte Carlo)
- :mod:`.fluxcsv`: the pipeline's flux.csv, both layouts
- :mod:`.compare`: changes (Table 4), rescale factor, QA score
- :mod:`.delays`: catalog ingestion delay statistics (App. D, Table 6)
- :mod:`.service`: the catalog web service queries and answers (the HTTP client and its
  cache: almacal.io.catalog_service)
- :mod:`.ebselect`: ALMA data, calibrators by intent, science spws (from MsInfo)
- :mod:`.sources`, :mod:`.targets`, :mod:`.check`, :mod:`.params`: what each EB is checked with
- :mod:`.task`: the task's steps (almacal.casatask.skeleton)
- :mod:`.results`, :mod:`.plot`: record, ECSV, JSON, PNG, updated flux.csv

Nothing here imports casatools or opens a network connection: the MS model
(almacal.msinfo), the catalog client and the point flux are passed in (:mod:`.task`).
"""
