"""Settings of the django-app fixture: what a small Django project writes."""
SECRET_KEY = "django-app-fixture-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "shop.urls"
INSTALLED_APPS = [
    "django.contrib.humanize",
    "shop",
]
MIDDLEWARE = []
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
    },
]
DATABASES = {}
USE_TZ = True
USE_I18N = False
