"""The volunteer's devices: list, register a push token, replace it, forget the device."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from volunteers.apis.base import ApiView, errors
from volunteers.models import Device
from volunteers.services.devices import device_delete, device_register, device_update


class DeviceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    platform = serializers.ChoiceField(choices=Device.Platform.choices)
    push_token = serializers.CharField()
    is_active = serializers.BooleanField()
    last_seen_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class DeviceListApi(ApiView):
    class InputSerializer(serializers.Serializer):
        push_token = serializers.CharField(max_length=4096)
        platform = serializers.ChoiceField(choices=Device.Platform.choices)

    @extend_schema(
        operation_id="devices_list",
        responses={200: DeviceOutputSerializer(many=True), **errors(401)},
        summary="My devices",
    )
    def get(self, request):
        devices = Device.objects.filter(volunteer__user_id=request.user.pk).order_by("pk")
        return Response(DeviceOutputSerializer(devices, many=True).data)

    @extend_schema(
        operation_id="devices_register",
        request=InputSerializer,
        responses={201: DeviceOutputSerializer, **errors(400, 401)},
        summary="Register this device's push token",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device = device_register(
            volunteer=self.volunteer(), auth_token=request.auth, **data.validated_data
        )
        return Response(DeviceOutputSerializer(device).data, status=status.HTTP_201_CREATED)


class DeviceDetailApi(ApiView):
    class InputSerializer(serializers.Serializer):
        push_token = serializers.CharField(max_length=4096)
        platform = serializers.ChoiceField(choices=Device.Platform.choices, required=False)

    @extend_schema(
        operation_id="devices_replace_token",
        request=InputSerializer,
        responses={200: DeviceOutputSerializer, **errors(400, 401, 404)},
        summary="Replace a device's push token",
    )
    def put(self, request, device_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device = device_update(
            volunteer=self.volunteer(), device_id=device_id, **data.validated_data
        )
        return Response(DeviceOutputSerializer(device).data)

    @extend_schema(
        operation_id="devices_delete",
        responses={204: None, **errors(401, 404)},
        summary="Forget a device (no more push to it)",
    )
    def delete(self, request, device_id: int):
        device_delete(volunteer=self.volunteer(), device_id=device_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
