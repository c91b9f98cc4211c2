"""almacal: CASA tasks to check and repair ALMA flux scales and high-frequency phases."""
