from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

import shop_exporters

ITEMS = [
    {"name": "cocoa", "stock": 2000},
    {"name": "coffee", "stock": 5125},
    {"name": "tea", "stock": 3400},
]


def index(request):
    return HttpResponse("<h1>django-app</h1><p>%d items</p>\n" % len(ITEMS))


def report(request):
    # Renders through the template engine: a template of the shop app's
    # templates/ directory that loads the humanize tag library.
    total = sum(i["stock"] for i in ITEMS)
    return render(request, "shop/report.html", {"items": ITEMS, "total": total})


def export(request, fmt):
    try:
        exporter = shop_exporters.load(fmt)
    except LookupError:
        return JsonResponse({"error": "no exporter %r" % fmt}, status=404)
    return HttpResponse(exporter.render(ITEMS), content_type=exporter.content_type)


def healthz(request):
    return HttpResponse("ok\n", content_type="text/plain")
