import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import PriceBand, Product, ProductStatus


class ProductFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    price_class = django_filters.ModelChoiceFilter(queryset=PriceBand.objects.all(), label=_("Price class"))
    brand = django_filters.CharFilter(lookup_expr="icontains", label=_("Brand"))
    provincial = django_filters.BooleanFilter(label=_("Provincial brand"))
    key_brand = django_filters.BooleanFilter(label=_("Key brand"))
    scarce = django_filters.BooleanFilter(label=_("Scarce brand"))
    status = django_filters.ChoiceFilter(choices=ProductStatus.choices, label=_("Status"))

    class Meta:
        model = Product
        fields = ["q", "price_class", "brand", "provincial", "key_brand", "scarce", "status"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value) | Q(brand__icontains=value))
