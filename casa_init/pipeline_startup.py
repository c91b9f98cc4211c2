# almacal's stages in ALMA pipeline recipes (CASA with the pipeline, or a pip
# environment with a pipeline source tree on PYTHONPATH: README, "In a pipeline recipe").
#
# It registers almacal_gridflux_check, almacal_relcal, almacal_spwconsistency and
# almacal_b2b_diagnostics with the pipeline (recipe commands, QA handlers, weblog
# pages) before a recipe runs. Append it to your CASA start-up file:
#   mkdir -p ~/.casa && cat casa_init/pipeline_startup.py >> ~/.casa/startup.py
# or for one session:  casa --pipeline --startupfile /abs/path/to/casa_init/pipeline_startup.py
# or, in a script, before recipereducer.reduce(...):
#   import almacal.pipeline; almacal.pipeline.register()
#
# Running it twice is harmless. Without the pipeline it says what is missing and
# leaves the session as it was (almacal's CASA tasks still work).
try:
    import almacal.pipeline as _almacal_pipeline

    _almacal_stages = _almacal_pipeline.register()
    import pipeline.cli as _pipeline_cli

    # the stages at the prompt too, beside CASA's own pipeline tasks
    globals().update({_s: getattr(_pipeline_cli, _s) for _s in _almacal_stages})
    print("almacal pipeline stages: " + ", ".join(_almacal_stages))
    del _almacal_pipeline, _almacal_stages, _pipeline_cli
except ImportError as _almacal_exc:
    print("almacal pipeline stages not registered: %s" % _almacal_exc)
    del _almacal_exc
