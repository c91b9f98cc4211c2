"""Start-up file of `almacal shell` (casashell --startupfile): the almacal tasks, then
the user's own ~/.casa/startup.py. casashell runs it in the prompt's namespace."""

import almacal.prompt as _almacal_prompt

_almacal_prompt.register_tasks(globals())
_almacal_prompt.run_user_startup(globals())
del _almacal_prompt
