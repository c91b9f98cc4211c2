"""The CASA task framework: task XML (``spec``), CASA task objects built from it
(``task``), the CASA logger (``log``) and the one skeleton every task runs
through (``skeleton``: params -> read -> compute -> write -> record).

Nothing here knows any science; casatools/casatasks are imported only when a
task is validated or run.
"""
