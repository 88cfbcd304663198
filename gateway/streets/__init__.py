"""The district's streets, one network for every service that uses them.

geometry: the streets file read (GeoJSON LineStrings, OpenStreetMap exports
as they are), the local plane, nearest-segment search. driving: the graph a
truck drives (one-way streets respected, footways left out) and the driving
distances between points along it. places: where a point is, in words a crew
can find ("Nygatan, 40 m from Drottninggatan").

Street lighting places its poles on these streets; waste plans its routes
along them. Neither imports the other: both import this package, which
imports neither.
"""
