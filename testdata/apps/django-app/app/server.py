"""django-app (slimtrace fixture): a Django project served by wsgiref.

/ answers without a template, so a build probed only there never starts
Django's template engine: the report's engine, its loaders, the humanize tag
library (an INSTALLED_APPS entry) and the CSV exporter (a plugin loaded by its
entry point name) are all loaded lazily, by name.
"""
import os
from wsgiref.simple_server import WSGIRequestHandler, make_server

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402


class Handler(WSGIRequestHandler):
    def log_message(self, fmt, *args):
        print("%s %s" % (self.address_string(), fmt % args), flush=True)


application = get_wsgi_application()
print("django-app listening on :8000", flush=True)
make_server("0.0.0.0", 8000, application, handler_class=Handler).serve_forever()
