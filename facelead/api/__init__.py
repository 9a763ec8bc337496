"""facelead's HTTP API as routers, one per part of the work: people and sessions, the
investigation (requests to released leads), the gallery and the program's reports, the
audit. Each route takes the signed-in person and the settings as dependencies
(``facelead.doors``) and calls the workflow or a flow; ``service.create_app`` mounts them."""

from facelead.api import audit, gallery, investigation, people

ROUTERS = (people.router, investigation.router, gallery.router, audit.router)
