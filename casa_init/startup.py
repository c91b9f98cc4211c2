# almacal tasks at the CASA prompt (casashell, pip `casa` or monolithic CASA 6).
#
# Use one of:
#   cat casa_init/startup.py >> ~/.casa/startup.py         # every CASA session
#   casa --startupfile /abs/path/to/casa_init/startup.py   # this session only
#   python -m casashell --startupfile /abs/path/to/casa_init/startup.py
# almacal must be importable by CASA's own Python (casashell drops user
# site-packages): install it into that Python.
#
# Then:  inp relcal_fit / go relcal_fit / default relcal_fit / tget relcal_fit,
# relcal_fit(vis=[...], ...) and taskhelp() (listed under "Extra tasks").
#
# casashell runs this file in the prompt's namespace after its own tasks are
# loaded and before register_builtin is removed. Running it twice is harmless.
import casashell as _almacal_casashell

import almacal as _almacal

for _almacal_task in _almacal.__all__:
    # this file runs in the prompt's namespace: its globals are the user's
    globals()[_almacal_task] = getattr(_almacal, _almacal_task)
    if "register_builtin" in globals():  # only exists during start-up
        register_builtin(_almacal_task)  # noqa: F821 - provided by casashell
if _almacal not in _almacal_casashell.extra_task_modules:
    _almacal_casashell.extra_task_modules.append(_almacal)
del _almacal_task, _almacal, _almacal_casashell
