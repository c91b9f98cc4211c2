# casaconfig site configuration: CASA's measures and observatory data from the
# casadata package, never downloaded (automatic updates off).
#
# almacal ships this file as almacal/casa_site_config.py and uses it by itself
# when you have no CASA configuration of your own (almacal.casaconfig_setup).
# To choose it explicitly, e.g. for a plain `python -m casashell`:
#   export CASASITECONFIG=/abs/path/to/casa_init/config.py
# Monolithic CASA keeps its own data and needs none of this.
import casadata

measurespath = casadata.datapath
datapath = [casadata.datapath]
measures_auto_update = False
data_auto_update = False
