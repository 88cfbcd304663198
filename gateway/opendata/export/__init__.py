"""The district's daily open-data files: for one local day, its bins (where,
what type, how full hour by hour), the emptyings, the street lights' energy
per zone for the night, and presence counts per zone and hour, as CSV and
GeoJSON described by a Frictionless Data Package (datapackage.json: a Table
Schema per CSV, which is the data dictionary, and the licence).

Plain data and decisions, with the standard library only: the caller reads
the gateway's data (gateway/daily_export.py) and hands it here; what may be
shown of presence is gateway/privacy.py's to say."""
