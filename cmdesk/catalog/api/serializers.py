from rest_framework import serializers

from cmdesk.catalog.models import PriceBand, Product


class PriceBandSerializer(serializers.ModelSerializer):
    class Meta:
        model = PriceBand
        fields = ["id", "rank", "name", "min_price", "max_price"]


class ProductSerializer(serializers.ModelSerializer):
    price_class_name = serializers.CharField(source="price_class.name", read_only=True, default=None)

    class Meta:
        model = Product
        fields = [
            "id",
            "code",
            "name",
            "brand",
            "manufacturer",
            "provincial",
            "wholesale_price",
            "retail_price",
            "price_class",
            "price_class_name",
            "tar_mg",
            "key_brand",
            "scarce",
            "launched_on",
            "status",
        ]
        read_only_fields = ["price_class"]  # derived from the wholesale price and the bands
