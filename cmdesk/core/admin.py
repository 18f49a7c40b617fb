from django.contrib import admin
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("cmdesk administration")
admin.site.site_title = _("cmdesk")
admin.site.index_title = _("Records")
