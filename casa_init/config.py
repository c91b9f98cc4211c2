# casaconfig site configuration for offline pip-installed CASA.
# Use with:  export CASASITECONFIG=/abs/path/to/casa_init/config.py
# Measures and observatory data come from the casadata package; nothing is
# downloaded. Monolithic CASA users keep their own data and need none of this.
import casadata

measurespath = casadata.datapath
datapath = [casadata.datapath]
measures_auto_update = False
data_auto_update = False
