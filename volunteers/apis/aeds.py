"""AEDs near a point, with whether each can be fetched now (no cabinet codes)."""

from django.contrib.gis.geos import Point
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from config.geography import within_denmark
from volunteers import selectors
from volunteers.apis.base import ApiView, LatLonSerializer, errors, latlon


class AedNearbyApi(ApiView):
    class QuerySerializer(serializers.Serializer):
        lat = serializers.FloatField(min_value=-90, max_value=90)
        lon = serializers.FloatField(min_value=-180, max_value=180)
        radius_m = serializers.IntegerField(min_value=50, max_value=5000, default=1000)

        def validate(self, attrs):
            if not within_denmark(lon=attrs["lon"], lat=attrs["lat"]):
                raise serializers.ValidationError({"lat": [_("The point is outside Denmark.")]})
            return attrs

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        location = LatLonSerializer()
        distance_m = serializers.IntegerField()
        address = serializers.CharField()
        placement = serializers.CharField()
        floor = serializers.CharField()
        indoor = serializers.BooleanField(allow_null=True)
        access = serializers.CharField()
        opening_hours = serializers.CharField()
        available_now = serializers.BooleanField()

    @extend_schema(
        operation_id="aeds_nearby",
        parameters=[QuerySerializer],
        responses={200: OutputSerializer(many=True), **errors(400, 401)},
        summary="AEDs around a point with availability now (no cabinet codes)",
    )
    def get(self, request):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        rows = selectors.aeds_near(
            point=Point(values["lon"], values["lat"], srid=4326), radius_m=values["radius_m"]
        )
        return Response(
            self.OutputSerializer(
                [
                    {
                        "id": aed.pk,
                        "name": aed.name,
                        "location": latlon(aed.location),
                        "distance_m": distance_m,
                        "address": aed.address,
                        "placement": aed.placement,
                        "floor": aed.floor,
                        "indoor": aed.indoor,
                        "access": aed.access,
                        "opening_hours": aed.opening_hours,
                        "available_now": available,
                    }
                    for aed, distance_m, available in rows
                ],
                many=True,
            ).data
        )
