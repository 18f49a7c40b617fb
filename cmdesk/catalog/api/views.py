from rest_framework import viewsets

from cmdesk.catalog import services
from cmdesk.catalog.filtersets import ProductFilterSet
from cmdesk.catalog.models import PriceBand, Product
from cmdesk.core.api import RestrictedModelViewSet

from .serializers import PriceBandSerializer, ProductSerializer


class ProductViewSet(RestrictedModelViewSet):
    """The product catalogue (卷烟规格); price class derived from the configured bands."""

    queryset = Product.objects.all()
    serializer_class = ProductSerializer
    filterset_class = ProductFilterSet
    ordering_fields = ["code", "name", "wholesale_price", "launched_on"]
    select_related = ("price_class",)

    def perform_create(self, serializer):
        product = Product(**serializer.validated_data)
        serializer.instance = self.handle_service(services.product_save, actor=self.request.user, product=product)

    def perform_update(self, serializer):
        product = serializer.instance
        for field, value in serializer.validated_data.items():
            setattr(product, field, value)
        self.handle_service(services.product_save, actor=self.request.user, product=product)


class PriceBandViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = PriceBand.objects.all()
    serializer_class = PriceBandSerializer

    def get_queryset(self):
        return PriceBand.objects.restrict(self.request.user, "view")
