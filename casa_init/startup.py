# almacal tasks at the CASA prompt (casashell, pip `casa` or monolithic CASA 6).
#
# `almacal shell` starts the prompt with them (and runs your ~/.casa/startup.py).
# For every `casa` / `python -m casashell` session, append this file to yours:
#   mkdir -p ~/.casa && cat casa_init/startup.py >> ~/.casa/startup.py
# or for one session:  casa --startupfile /abs/path/to/casa_init/startup.py
# almacal must be importable by CASA's own Python (casashell drops user
# site-packages): install it into that Python (README, "Install").
#
# Then:  inp relcal_fit / go relcal_fit / default relcal_fit / tget relcal_fit,
# relcal_fit(vis=[...], ...) and taskhelp() (listed under "Extra tasks").
#
# casashell runs this file in the prompt's namespace after its own tasks are
# loaded and before register_builtin is removed. Running it twice is harmless.
import almacal.prompt as _almacal_prompt

_almacal_prompt.register_tasks(globals())
del _almacal_prompt
