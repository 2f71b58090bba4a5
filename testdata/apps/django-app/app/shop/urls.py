from django.urls import path

from shop import views

urlpatterns = [
    path("", views.index),
    path("report", views.report),
    path("export/<str:fmt>", views.export),
    path("healthz", views.healthz),
]
