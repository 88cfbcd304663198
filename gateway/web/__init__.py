"""The web app the gateway serves: a page for each person who runs the
district (the operator's and planner's desk, the technician's nodes, the
crew's route on a phone), the login page, and their assets. Every script and
style comes from this package or from the project's own npm dependencies
(Leaflet), never from a CDN: the app works on a city network without the
internet. The pages hold no data: they read it from the HTTP API, as the
logged-in account may."""
