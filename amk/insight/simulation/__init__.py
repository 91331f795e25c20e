"""The policy simulator: dispatch policies run side by side on the region's own incidents,
volunteers and AEDs, by vectorised Monte Carlo (docs/simulation.md).

``params`` holds the behavioural and clinical assumptions with their sources, ``survival`` the
published survival function, ``policies`` the one mapping from a DispatchPolicy, ``model`` the
simulation, ``validation`` the checks that can fail, ``inputs`` the reads from the database and
``report`` the tables, plots and JSON.
"""
